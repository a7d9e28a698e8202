/* Quoting words for a POSIX shell (see shell_quote.h). */
#include <string.h>

#include "shell_quote.h"

void orch_shell_quote(orch_buf *out, const char *word, size_t len)
{
	size_t start = 0;

	/* Inside single quotes nothing is special except the closing quote. */
	orch_buf_put(out, "'", 1);
	for (size_t i = 0; i < len; i++) {
		if (word[i] != '\'')
			continue;
		orch_buf_put(out, word + start, i - start);
		orch_buf_put(out, "'\\''", 4);
		start = i + 1;
	}
	orch_buf_put(out, word + start, len - start);
	orch_buf_put(out, "'", 1);
}

void orch_shell_quote_line(orch_buf *out, const char *word, size_t len)
{
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		if (word[i] != '\n')
			continue;
		orch_shell_quote(out, word + start, i - start);
		orch_buf_puts(out, "\"$nl\"");
		start = i + 1;
	}
	orch_shell_quote(out, word + start, len - start);
}
