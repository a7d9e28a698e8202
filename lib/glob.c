/*
 * Path globs, compiled to small automata and intersected.
 */
#include "glob.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/*
 * A glob is compiled into a small automaton whose states are the token
 * positions 0..ntokens (ntokens accepts). At state i:
 *   GLOB_CHAR    consumes one character of `set` and goes to i + 1;
 *   GLOB_LOOP    consumes one character of `set` and stays, or moves on to
 *                i + 1 without consuming;
 *   GLOB_BRANCH  moves on without consuming to i + 1 or to `target`.
 * Two globs overlap when the product of their automata can reach the pair
 * of accepting states, which a worklist over (i, j) pairs decides in
 * O(|a| * |b|) without recursion.
 */

enum { GLOB_CHAR, GLOB_LOOP, GLOB_BRANCH };

typedef struct {
	uint64_t bits[4];
} charset;

struct orch_glob_token {
	int kind;
	size_t target;
	charset set;
};

static void charset_add(charset *set, unsigned char c)
{
	set->bits[c >> 6] |= (uint64_t)1 << (c & 63);
}

static void charset_remove(charset *set, unsigned char c)
{
	set->bits[c >> 6] &= ~((uint64_t)1 << (c & 63));
}

static int charset_meets(const charset *a, const charset *b)
{
	return ((a->bits[0] & b->bits[0]) | (a->bits[1] & b->bits[1]) |
	        (a->bits[2] & b->bits[2]) | (a->bits[3] & b->bits[3])) != 0;
}

/* Every character that may appear in a path (no NUL), '/' included or not. */
static charset charset_any(int with_slash)
{
	charset set;

	memset(&set, 0xff, sizeof(set));
	charset_remove(&set, '\0');
	if (!with_slash)
		charset_remove(&set, '/');
	return set;
}

static charset charset_one(unsigned char c)
{
	charset set = {{0, 0, 0, 0}};

	charset_add(&set, c);
	return set;
}

static struct orch_glob_token *nfa_append(orch_glob *nfa, int kind,
                                          const charset *set)
{
	struct orch_glob_token *token;

	if (nfa->ntokens == nfa->alloc) {
		nfa->alloc = nfa->alloc ? nfa->alloc * 2 : 16;
		nfa->tokens = orch_realloc(
		    nfa->tokens, nfa->alloc * sizeof(struct orch_glob_token));
	}
	token = &nfa->tokens[nfa->ntokens++];
	memset(token, 0, sizeof(*token));
	token->kind = kind;
	if (set)
		token->set = *set;
	return token;
}

/* Add the members of a POSIX class name ("alpha", ...); 0 if unknown. */
static int charset_add_named(charset *set, const char *name, size_t len)
{
	static const struct {
		const char *name;
		int (*test)(int);
	} classes[] = {
	    {"alnum", isalnum}, {"alpha", isalpha}, {"blank", isblank},
	    {"cntrl", iscntrl}, {"digit", isdigit}, {"graph", isgraph},
	    {"lower", islower}, {"print", isprint}, {"punct", ispunct},
	    {"space", isspace}, {"upper", isupper}, {"xdigit", isxdigit},
	};

	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		if (strlen(classes[i].name) != len ||
		    strncmp(classes[i].name, name, len))
			continue;
		for (int c = 1; c < 128; c++)
			if (classes[i].test(c))
				charset_add(set, (unsigned char)c);
		return 1;
	}
	return 0;
}

/*
 * Parse a bracket expression starting at `p` ('['). Returns the character
 * after the closing ']' and fills *out, or NULL when it is not one (then
 * '[' is an ordinary character, as in fnmatch).
 */
static const char *parse_class(charset *out, const char *p)
{
	charset set = {{0, 0, 0, 0}};
	const char *q = p + 1;
	int negate = 0, first = 1;

	if (*q == '!' || *q == '^') {
		negate = 1;
		q++;
	}
	while (*q && (*q != ']' || first)) {
		unsigned char lo, hi;

		first = 0;
		if (q[0] == '[' && q[1] == ':') {
			const char *end = strstr(q + 2, ":]");
			if (end && charset_add_named(&set, q + 2,
			                             (size_t)(end - q - 2))) {
				q = end + 2;
				continue;
			}
		}
		if (q[0] == '\\' && q[1])
			q++;
		lo = (unsigned char)*q++;
		if (q[0] == '-' && q[1] && q[1] != ']') {
			q++;
			if (q[0] == '\\' && q[1])
				q++;
			hi = (unsigned char)*q++;
			for (unsigned c = lo; c <= hi; c++)
				charset_add(&set, (unsigned char)c);
		} else {
			charset_add(&set, lo);
		}
	}
	if (*q != ']')
		return NULL;
	if (negate)
		for (int i = 0; i < 4; i++)
			set.bits[i] = ~set.bits[i];
	/* like fnmatch with FNM_PATHNAME: a class never matches '/' */
	charset_remove(&set, '/');
	charset_remove(&set, '\0');
	*out = set;
	return q + 1;
}

/*
 * Skip what does not change the paths a glob names: leading "/" and "./",
 * repeated slashes and "." components are handled by the callers.
 */
static const char *skip_leading(const char *p)
{
	for (;;) {
		if (*p == '/')
			p++;
		else if (p[0] == '.' && p[1] == '/')
			p += 2;
		else if (p[0] == '.' && p[1] == '\0')
			p++;
		else
			return p;
	}
}

void orch_glob_compile(orch_glob *nfa, const char *pattern)
{
	const char *p = skip_leading(pattern);
	size_t len = strlen(p);
	charset any = charset_any(1), nonslash = charset_any(0);
	charset slash = charset_one('/');
	int at_component = 1, wild_component = 0, dotted = 0, as_directory = 0;
	const char *end;

	nfa->ntokens = 0;

	/* a trailing '/' says the pattern is a directory */
	while (len > 0 && p[len - 1] == '/' &&
	       (len < 2 || p[len - 2] != '\\')) {
		len--;
		as_directory = 1;
	}
	end = p + len;

	if (p == end) {
		/* "", "/" or ".": the whole tree */
		nfa_append(nfa, GLOB_LOOP, &any);
		return;
	}

	while (p < end) {
		if (*p == '/') {
			while (p < end && *p == '/')
				p++;
			/* "a/./b" is "a/b" */
			while (p < end && p[0] == '.' &&
			       (p + 1 == end || p[1] == '/')) {
				p++;
				while (p < end && *p == '/')
					p++;
				if (p == end)
					as_directory = 1;
			}
			if (p < end) {
				nfa_append(nfa, GLOB_CHAR, &slash);
				at_component = 1;
				wild_component = 0;
				dotted = 0;
			}
			continue;
		}

		if (*p == '*') {
			const char *run = p;
			while (p < end && *p == '*')
				p++;
			wild_component = 1;
			if (p - run >= 2 && at_component &&
			    (p == end || *p == '/')) {
				if (p == end) {
					nfa_append(nfa, GLOB_LOOP, &any);
				} else {
					/* "**" + "/": zero or more whole
					 * directories */
					size_t at = nfa->ntokens;
					nfa_append(nfa, GLOB_BRANCH, NULL);
					nfa_append(nfa, GLOB_LOOP, &any);
					nfa_append(nfa, GLOB_CHAR, &slash);
					nfa->tokens[at].target = at + 3;
					while (p < end && *p == '/')
						p++;
					at_component = 1;
					wild_component = 0;
					dotted = 0;
					continue;
				}
			} else {
				nfa_append(nfa, GLOB_LOOP,
				           p - run >= 2 ? &any : &nonslash);
			}
			at_component = 0;
			continue;
		}

		if (*p == '?') {
			nfa_append(nfa, GLOB_CHAR, &nonslash);
			wild_component = 1;
		} else if (*p == '[') {
			charset set;
			const char *after = parse_class(&set, p);
			if (after && after <= end) {
				nfa_append(nfa, GLOB_CHAR, &set);
				wild_component = 1;
				p = after;
				at_component = 0;
				continue;
			}
			charset one = charset_one('[');
			nfa_append(nfa, GLOB_CHAR, &one);
		} else {
			charset one;
			if (*p == '\\' && p + 1 < end)
				p++;
			one = charset_one((unsigned char)*p);
			nfa_append(nfa, GLOB_CHAR, &one);
			if (*p == '.' && !at_component)
				dotted = 1;
		}
		p++;
		at_component = 0;
	}

	/*
	 * A directory covers what is below it, so a pattern that names one
	 * also matches "<pattern>/anything": one with a trailing '/', or
	 * whose last component is literal and has no extension ("api",
	 * ".github"; "api/auth.c" names a file). A wildcard in the last
	 * component ("a/x?") names entries, not directories: "a/" and a star
	 * do not cover "a/b/c".
	 */
	if (as_directory || (!wild_component && !dotted)) {
		size_t at = nfa->ntokens;
		nfa_append(nfa, GLOB_BRANCH, NULL)->target = at + 3;
		nfa_append(nfa, GLOB_CHAR, &slash);
		nfa_append(nfa, GLOB_LOOP, &any);
	}
}

void orch_glob_free(orch_glob *nfa)
{
	free(nfa->tokens);
	nfa->tokens = NULL;
	nfa->ntokens = nfa->alloc = 0;
}

void orch_glob_scratch_free(orch_glob_scratch *scratch)
{
	free(scratch->visited);
	free(scratch->stack);
	memset(scratch, 0, sizeof(*scratch));
}

int orch_glob_intersect(const orch_glob *a, const orch_glob *b,
                        orch_glob_scratch *scratch)
{
	size_t na = a->ntokens, nb = b->ntokens, width = nb + 1;
	size_t total = (na + 1) * width, depth = 0;
	size_t bytes = (total + 7) / 8;
	unsigned char *visited;
	size_t *stack;

	if (scratch->visited_alloc < bytes) {
		scratch->visited = orch_realloc(scratch->visited, bytes);
		scratch->visited_alloc = bytes;
	}
	if (scratch->stack_alloc < total) {
		scratch->stack =
		    orch_realloc(scratch->stack, total * sizeof(size_t));
		scratch->stack_alloc = total;
	}
	visited = scratch->visited;
	stack = scratch->stack;
	memset(visited, 0, bytes);

#define VISIT(i, j)                                                            \
	do {                                                                   \
		size_t s_ = (i)*width + (j);                                   \
		if (!(visited[s_ >> 3] & (1u << (s_ & 7)))) {                  \
			visited[s_ >> 3] |= (unsigned char)(1u << (s_ & 7));   \
			stack[depth++] = s_;                                   \
		}                                                              \
	} while (0)

	VISIT(0, 0);
	while (depth > 0) {
		size_t state = stack[--depth];
		size_t i = state / width, j = state % width;
		const struct orch_glob_token *ta =
		    i < na ? &a->tokens[i] : NULL;
		const struct orch_glob_token *tb =
		    j < nb ? &b->tokens[j] : NULL;

		if (!ta && !tb)
			return 1;
		if (ta && ta->kind == GLOB_LOOP)
			VISIT(i + 1, j);
		if (ta && ta->kind == GLOB_BRANCH) {
			VISIT(i + 1, j);
			VISIT(ta->target, j);
		}
		if (tb && tb->kind == GLOB_LOOP)
			VISIT(i, j + 1);
		if (tb && tb->kind == GLOB_BRANCH) {
			VISIT(i, j + 1);
			VISIT(i, tb->target);
		}
		if (ta && tb && ta->kind != GLOB_BRANCH &&
		    tb->kind != GLOB_BRANCH &&
		    charset_meets(&ta->set, &tb->set))
			VISIT(ta->kind == GLOB_CHAR ? i + 1 : i,
			      tb->kind == GLOB_CHAR ? j + 1 : j);
	}
#undef VISIT
	return 0;
}

int orch_glob_overlap(const char *a, const char *b)
{
	orch_glob nfa_a = {0}, nfa_b = {0};
	orch_glob_scratch scratch = {0};
	int overlap;

	orch_glob_compile(&nfa_a, a);
	orch_glob_compile(&nfa_b, b);
	overlap = orch_glob_intersect(&nfa_a, &nfa_b, &scratch);
	orch_glob_free(&nfa_a);
	orch_glob_free(&nfa_b);
	orch_glob_scratch_free(&scratch);
	return overlap;
}

char *orch_glob_literal_lead(const char *pattern)
{
	orch_buf key = {0};
	const char *p = skip_leading(pattern);

	while (*p) {
		size_t len = strcspn(p, "/"), lit = strcspn(p, "/*?[\\");

		if (len == 0 || (len == 1 && p[0] == '.')) {
			p += len + (p[len] == '/');
			continue;
		}
		if (key.len)
			orch_buf_put(&key, "/", 1);
		if (lit < len) {
			orch_buf_put(&key, p, lit);
			break;
		}
		orch_buf_put(&key, p, len);
		p += len + (p[len] == '/');
	}
	return orch_buf_detach(&key);
}
