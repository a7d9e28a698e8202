#ifndef ORCH_INI_READER_H
#define ORCH_INI_READER_H

/*
 * Reading INI files (plans, worker configuration) through inih, adding what
 * this inih build lacks: the line number of every value, section names of
 * any length, whether a value line continues the previous key (a multi-line
 * value), and a line too long for inih's buffer reported as an error
 * instead of being cut silently. The only module that includes <ini.h>.
 *
 * Comments: a line whose first non-blank character is ';' or '#' is a
 * comment. An inline comment (whitespace, then ';' or '#') ends a value,
 * except for verbatim keys, whose value is the rest of the line (a shell
 * command's ';', a prompt's '#'); that holds on their continuation lines
 * too.
 */

/*
 * Called for every `[section]` line with the text between the brackets, as
 * written, and its line number. Returns 0, or a negative error code after
 * setting the message: the parse stops there.
 */
typedef int (*orch_ini_section_fn)(const char *section, int line,
                                   void *payload);

/*
 * Whether the value of `key` (in the section last given to the section
 * callback) is taken verbatim, inline comment characters and all: nonzero
 * for yes.
 */
typedef int (*orch_ini_verbatim_fn)(const char *key, void *payload);

/*
 * Called for every value: `section` as given to the section callback ("" before
 * any section), `key` and `value` (surrounding blanks stripped; an inline
 * comment too, unless `key` is verbatim),
 * the line number, and `continuation`: 0 for a `key = value` line, else the
 * line is an indented continuation of the previous key (inih repeats that
 * key) and `continuation - 1` blank lines came between it and the value's
 * previous line (so a multi-line text can keep its paragraphs). The strings
 * die after the call. Returns 0, or a negative code after setting the
 * message: the parse stops there.
 */
typedef int (*orch_ini_value_fn)(const char *section, const char *key,
                                 const char *value, int line, int continuation,
                                 void *payload);

/*
 * Parse the INI file `path`, calling `on_section` and `on_value` in file
 * order; `is_verbatim` (NULL: no key is) says which keys keep inline comment
 * characters in their values. Returns 0; the first callback error;
 * ORCH_ENOTFOUND when the file does not exist and ORCH_EINVALID when it cannot
 * be read, both with "cannot read 'PATH': reason"; ORCH_EINVALID "PATH:LINE:
 * malformed line" or "PATH:LINE: line too long (at most N characters)", with a
 * hint.
 */
int orch_ini_parse(const char *path, orch_ini_section_fn on_section,
                   orch_ini_verbatim_fn is_verbatim, orch_ini_value_fn on_value,
                   void *payload);

/*
 * Split a `[kind "NAME"]` section header (as given to the section callback)
 * for `kind` ("task", "worker"). Returns 0 with *out_name (malloc'd, caller
 * frees) a valid id; 1 when the section is not of that kind (nothing set);
 * ORCH_EINVALID "PATH:LINE: ..." when the name is not quoted or not a valid
 * id (`what` names it in the message: "task id", "worker name").
 */
int orch_ini_section_name(char **out_name, const char *section,
                          const char *kind, const char *what, const char *path,
                          int line);

#endif
