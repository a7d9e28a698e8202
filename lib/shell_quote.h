#ifndef ORCH_SHELL_QUOTE_H
#define ORCH_SHELL_QUOTE_H

#include <stddef.h>

#include "util.h"

/*
 * Quoting for a POSIX shell: the one place where words are put on a remote
 * command line. Every byte reaches the command exactly as given (quotes,
 * `$( )`, backticks, newlines, non-ASCII bytes); the shell expands nothing.
 */

/*
 * Append `word` (`len` bytes, may hold any byte but NUL) to *out as one
 * shell word: in single quotes, each ' written as '\''. The empty word
 * becomes ''.
 */
void orch_shell_quote(orch_buf *out, const char *word, size_t len);

/*
 * As orch_shell_quote, on one line: each newline of `word` is written as
 * '"$nl"' (outside the quotes), for a shell that reads a request a line at
 * a time and in which `nl` holds a newline.
 */
void orch_shell_quote_line(orch_buf *out, const char *word, size_t len);

#endif
