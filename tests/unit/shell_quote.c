#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shell_quote.h"
#include "unit.h"

static char *quoted(const char *word)
{
	orch_buf buf = {0};
	orch_shell_quote(&buf, word, strlen(word));
	return orch_buf_detach(&buf);
}

static const struct {
	const char *word;
	const char *expected;
} cases[] = {
    {"", "''"},
    {"plain", "'plain'"},
    {"two words", "'two words'"},
    {"it's", "'it'\\''s'"},
    {"'", "''\\'''"},
    {"\"double\"", "'\"double\"'"},
    {"$(rm -rf /)", "'$(rm -rf /)'"},
    {"`id`", "'`id`'"},
    {"line1\nline2", "'line1\nline2'"},
    {"caf\xc3\xa9 \xff\x01", "'caf\xc3\xa9 \xff\x01'"},
    {"$HOME ${x} \\ * ? ~ ; & | < > ( ) #",
     "'$HOME ${x} \\ * ? ~ ; & | < > ( ) #'"},
};

TEST(words_are_single_quoted_with_quotes_escaped)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *q = quoted(cases[i].word);
		CHECK_STR(q, cases[i].expected);
		free(q);
	}
}

TEST(only_len_bytes_are_quoted)
{
	orch_buf buf = {0};
	orch_shell_quote(&buf, "abcdef", 3);
	CHECK_STR(buf.ptr, "'abc'");
	orch_buf_free(&buf);
}

/* Run `sh -c 'printf %s "$1"' sh <quoted>` and return what it printed. */
static int through_sh(orch_buf *out, const char *word, size_t len)
{
	orch_buf cmd = {0};
	char chunk[4096];
	size_t n;
	FILE *fp;
	int status;

	orch_buf_puts(&cmd, "sh -c 'printf %s \"$1\"' sh ");
	orch_shell_quote(&cmd, word, len);
	fp = popen(cmd.ptr, "r");
	orch_buf_free(&cmd);
	if (!fp)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		orch_buf_put(out, chunk, n);
	status = pclose(fp);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(every_word_survives_a_real_shell_byte_for_byte)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		orch_buf got = {0};
		const char *w = cases[i].word;
		CHECK_INT(through_sh(&got, w, strlen(w)), 0);
		CHECK_INT(got.len, strlen(w));
		CHECK(got.len == strlen(w) &&
		      memcmp(got.ptr ? got.ptr : "", w, got.len) == 0);
		orch_buf_free(&got);
	}
}

TEST(all_bytes_but_nul_survive_a_real_shell)
{
	char all[255];
	orch_buf got = {0};

	for (int i = 0; i < 255; i++)
		all[i] = (char)(i + 1);
	CHECK_INT(through_sh(&got, all, sizeof(all)), 0);
	CHECK_INT(got.len, sizeof(all));
	CHECK(got.len == sizeof(all) && memcmp(got.ptr, all, sizeof(all)) == 0);
	orch_buf_free(&got);
}

TEST(line_quoting_is_one_line)
{
	orch_buf buf = {0};
	orch_shell_quote_line(&buf, "a\nb'c\n", 6);
	CHECK_STR(buf.ptr, "'a'\"$nl\"'b'\\''c'\"$nl\"''");
	CHECK(!memchr(buf.ptr, '\n', buf.len));
	orch_buf_free(&buf);
}

/*
 * A shell that reads `set -- WORD` as one line (read -r) and evals it, as
 * the SSH worker's slot shell does: every byte but NUL comes through.
 */
TEST(line_quoted_words_survive_read_and_eval)
{
	char all[255];
	orch_buf input = {0}, got = {0};
	char path[] = "/tmp/unit-quote-XXXXXX";
	char chunk[4096];
	size_t n;
	FILE *fp;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	for (int i = 0; i < 255; i++)
		all[i] = (char)(i + 1);
	orch_buf_puts(&input, "set -- ");
	orch_shell_quote_line(&input, all, sizeof(all));
	orch_buf_puts(&input, "\n");
	CHECK(write(fd, input.ptr, input.len) == (ssize_t)input.len);
	close(fd);
	orch_buf_clear(&input);
	orch_buf_printf(&input,
	                "sh -c 'nl=\"\n\"; IFS= read -r l && eval \"$l\" &&"
	                " printf %%s \"$1\"' <%s",
	                path);
	fp = popen(input.ptr, "r");
	CHECK(fp != NULL);
	while (fp && (n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		orch_buf_put(&got, chunk, n);
	CHECK_INT(fp ? pclose(fp) : -1, 0);
	unlink(path);
	CHECK_INT(got.len, sizeof(all));
	CHECK(got.len == sizeof(all) && memcmp(got.ptr, all, sizeof(all)) == 0);
	orch_buf_free(&input);
	orch_buf_free(&got);
}

static const unit_test table[] = {
    T(words_are_single_quoted_with_quotes_escaped),
    T(only_len_bytes_are_quoted),
    T(every_word_survives_a_real_shell_byte_for_byte),
    T(all_bytes_but_nul_survive_a_real_shell),
    T(line_quoting_is_one_line),
    T(line_quoted_words_survive_read_and_eval),
};

UNIT_MAIN(table)
