/*
 * inih reads lines through an fgets-like reader into a buffer of `num`
 * bytes and calls the handler without a line number; section names longer
 * than 49 bytes are cut. So our reader does the bookkeeping inih cannot: it
 * counts physical lines, refuses a line that does not fit, classifies each
 * line the way inih's parser will (comment, continuation, section, key) and
 * reports sections itself, in full.
 *
 * inih (as Debian builds it) also ends a value at whitespace + ';', even
 * inside quotes, and knows no '#' inline comment. So inih only says which
 * key a line sets; the value given to the caller is taken from the line
 * itself: the rest of the line for verbatim keys (commands, prompts), else
 * the text before an inline comment (whitespace, then ';' or '#').
 */
#include "ini_reader.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <ini.h>

#include "error.h"
#include "util.h"

struct ini_state {
	const char *path;
	FILE *fp;
	char *raw; /* the physical line last read (getline buffer) */
	size_t rawalloc;
	int line;          /* number of the line last read */
	int indented;      /* it starts with whitespace (or a BOM) */
	int has_prev;      /* inih has a previous key to continue */
	int blank_run;     /* blank lines since the last line with text */
	int blanks_before; /* blank lines just before the current line */
	const char *value; /* where the value starts in `raw`, NULL if none */
	orch_buf text;     /* the value handed to the caller */
	orch_buf section;  /* the current section, full length */
	orch_ini_section_fn on_section;
	orch_ini_verbatim_fn is_verbatim;
	orch_ini_value_fn on_value;
	void *payload;
	int error; /* first error (negative), 0 if none */
	int error_line;
};

/*
 * As inih's find_chars_or_comment: the first of `chars`, or a comment (one
 * of `comments` after a blank), or the end of `s`.
 */
static const char *find_chars_or_comment(const char *s, const char *chars,
                                         const char *comments)
{
	int was_space = 0;

	while (*s && (!chars || !strchr(chars, *s)) &&
	       !(was_space && strchr(comments, *s))) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/* inih's own inline comments: ';' after a blank. */
#define INIH_COMMENTS ";"
/* Ours: ';' or '#' after a blank, where inline comments are allowed. */
#define INLINE_COMMENTS ";#"

/* Note a section line inih is about to see, and tell the caller. */
static int start_section(struct ini_state *st, const char *start)
{
	const char *end = find_chars_or_comment(start + 1, "]", INIH_COMMENTS);

	if (*end != ']')
		return 0; /* inih reports it as malformed */
	orch_buf_clear(&st->section);
	orch_buf_put(&st->section, start + 1, (size_t)(end - start - 1));
	st->has_prev = 0;
	if (!st->on_section)
		return 0;
	return st->on_section(st->section.ptr, st->line, st->payload);
}

static char *read_line(char *str, int num, void *stream)
{
	struct ini_state *st = stream;
	const char *start;
	ssize_t len;
	int error;

	st->value = NULL;
	if (st->error)
		return NULL;
	errno = 0;
	len = getline(&st->raw, &st->rawalloc, st->fp);
	if (len < 0) {
		if (ferror(st->fp)) {
			orch_error_os("cannot read '%s'", st->path);
			st->error = ORCH_EINVALID;
			st->error_line = st->line + 1;
		}
		return NULL;
	}
	st->line++;
	if (len > 0 && st->raw[len - 1] == '\n')
		st->raw[--len] = '\0';
	if (len > 0 && st->raw[len - 1] == '\r')
		st->raw[--len] = '\0';
	if (num < 1 || len > num - 1) {
		orch_error_set("%s:%d: line too long (at most %d characters)",
		               st->path, st->line, num > 0 ? num - 1 : 0);
		orch_error_hint("continue a long value on indented lines, or "
		                "move a long prompt to a prompt-file");
		st->error = ORCH_EINVALID;
		st->error_line = st->line;
		return NULL;
	}
	memcpy(str, st->raw, (size_t)len + 1);

	start = st->raw;
	if (st->line == 1 && !strncmp(start, "\xEF\xBB\xBF", 3))
		start += 3;
	while (isspace((unsigned char)*start))
		start++;
	/* inih: leading blanks (or a skipped BOM) make a continuation */
	st->indented = start > st->raw;
	if (!*start) {
		st->blank_run++;
		return str;
	}
	if (*start == ';' || *start == '#')
		return str;
	st->blanks_before = st->blank_run;
	st->blank_run = 0;
	if (st->has_prev && st->indented) {
		st->value = start; /* inih continues the previous key */
		return str;
	}
	if (*start == '[') {
		if ((error = start_section(st, start)) < 0) {
			st->error = error;
			st->error_line = st->line;
			return NULL;
		}
		return str;
	}
	/* as inih: the key ends at the first '=' or ':' */
	start = find_chars_or_comment(start, "=:", INIH_COMMENTS);
	if (*start == '=' || *start == ':') {
		start++;
		while (isspace((unsigned char)*start))
			start++;
		st->value = start;
	}
	return str;
}

/* The value of the current line for `key`, in st->text. */
static const char *line_value(struct ini_state *st, const char *key,
                              const char *inih_value)
{
	const char *end;

	if (!st->value) /* not a line classified as a value: trust inih */
		return inih_value;
	if (st->is_verbatim && st->is_verbatim(key, st->payload))
		end = st->value + strlen(st->value);
	else
		end = find_chars_or_comment(st->value, NULL, INLINE_COMMENTS);
	while (end > st->value && isspace((unsigned char)end[-1]))
		end--;
	orch_buf_clear(&st->text);
	orch_buf_put(&st->text, st->value, (size_t)(end - st->value));
	return st->text.ptr;
}

static int handle_value(void *user, const char *section, const char *name,
                        const char *value)
{
	struct ini_state *st = user;
	int continuation =
	    st->has_prev && st->indented ? 1 + st->blanks_before : 0;
	int error;

	(void)section; /* cut at 49 bytes by inih: ours is whole */
	if (st->error)
		return 0;
	st->has_prev = 1;
	value = line_value(st, name, value);
	error = st->on_value(st->section.ptr, name, value, st->line,
	                     continuation, st->payload);
	if (error < 0) {
		st->error = error;
		st->error_line = st->line;
		return 0;
	}
	return 1;
}

int orch_ini_parse(const char *path, orch_ini_section_fn on_section,
                   orch_ini_verbatim_fn is_verbatim, orch_ini_value_fn on_value,
                   void *payload)
{
	struct ini_state st = {0};
	int error = 0, bad_line;

	st.path = path;
	st.on_section = on_section;
	st.is_verbatim = is_verbatim;
	st.on_value = on_value;
	st.payload = payload;
	orch_buf_puts(&st.section, "");

	if (!(st.fp = fopen(path, "r"))) {
		int missing = errno == ENOENT;
		orch_error_os("cannot read '%s'", path);
		error = missing ? ORCH_ENOTFOUND : ORCH_EINVALID;
		goto done;
	}
	bad_line = ini_parse_stream(read_line, &st, handle_value, &st);
	if (bad_line > 0 && (!st.error || bad_line < st.error_line)) {
		/* inih found a line it cannot parse before any error of ours */
		orch_error_set("%s:%d: malformed line", path, bad_line);
		orch_error_hint("expected '[section]', 'key = value', or an "
		                "indented line continuing the previous value");
		error = ORCH_EINVALID;
	} else if (st.error) {
		error = st.error;
	} else if (bad_line < 0) {
		orch_error_set("%s: cannot parse (inih error %d)", path,
		               bad_line);
		error = ORCH_ERROR;
	}
done:
	if (st.fp)
		fclose(st.fp);
	free(st.raw);
	orch_buf_free(&st.section);
	orch_buf_free(&st.text);
	return error;
}

int orch_ini_section_name(char **out_name, const char *section,
                          const char *kind, const char *what, const char *path,
                          int line)
{
	const char *start = section, *end = section + strlen(section), *quote;
	size_t klen = strlen(kind);
	char *name;

	*out_name = NULL;
	while (isspace((unsigned char)*start))
		start++;
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	if ((size_t)(end - start) < klen || strncmp(start, kind, klen) ||
	    (start[klen] && !isspace((unsigned char)start[klen]) &&
	     start[klen] != '"'))
		return 1;
	quote = start + klen;
	while (isspace((unsigned char)*quote))
		quote++;
	if (*quote != '"' || end - quote < 2 || end[-1] != '"') {
		orch_error_set(
		    "%s:%d: the %s in '[%s]' must be in double quotes", path,
		    line, what, section);
		orch_error_hint("write [%s \"NAME\"]", kind);
		return ORCH_EINVALID;
	}
	name = orch_strndup(quote + 1, (size_t)(end - quote - 2));
	if (!orch_id_valid(name)) {
		orch_error_set("%s:%d: invalid %s '%s'", path, line, what,
		               name);
		orch_error_hint(
		    "%ss are 1-100 characters of A-Z a-z 0-9 . _ -, not "
		    "starting "
		    "with '.' or '-', without '..', not ending in '.lock'",
		    what);
		free(name);
		return ORCH_EINVALID;
	}
	*out_name = name;
	return 0;
}
