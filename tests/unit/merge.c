/* Unit tests of lib/merge.c: analysis, chain building, verify, moving a branch.
 */
#include <git2.h>
#include <git2/sys/mempack.h>

#include "commit_cache.h"
#include "error.h"
#include "merge.h"
#include "unit.h"
#include "util.h"

/* A change to one file: content NULL deletes it. */
typedef struct {
	const char *path;
	const char *content;
} change;

/* The same with a mode (0: a regular file) and a length (0: strlen). */
typedef struct {
	const char *path;
	const char *content;
	unsigned mode;
	size_t len;
} file_change;

static git_repository *new_repo(int bare)
{
	git_repository *repo = NULL;
	const char *dir = unit_tmpdir();

	if (git_repository_init(&repo, dir, bare) < 0)
		abort();
	return repo;
}

/* Commit `changes` on top of `parent` (NULL: root); returns the commit id. */
static git_oid commit_files(git_repository *repo, const git_oid *parent,
                            const file_change *changes, size_t n,
                            const char *message)
{
	git_index *index = NULL;
	git_commit *parent_commit = NULL;
	git_tree *tree = NULL;
	git_signature *sig = NULL;
	git_oid tree_id, id;

	if (git_index_new(&index) < 0)
		abort();
	if (parent) {
		git_tree *ptree = NULL;
		if (git_commit_lookup(&parent_commit, repo, parent) < 0 ||
		    git_commit_tree(&ptree, parent_commit) < 0 ||
		    git_index_read_tree(index, ptree) < 0)
			abort();
		git_tree_free(ptree);
	}
	for (size_t i = 0; i < n; i++) {
		if (!changes[i].content) {
			git_index_remove_bypath(index, changes[i].path);
			continue;
		}
		git_index_entry entry;
		memset(&entry, 0, sizeof(entry));
		entry.mode =
		    changes[i].mode ? changes[i].mode : GIT_FILEMODE_BLOB;
		entry.path = changes[i].path;
		if (git_blob_create_from_buffer(
		        &entry.id, repo, changes[i].content,
		        changes[i].len ? changes[i].len
		                       : strlen(changes[i].content)) < 0 ||
		    git_index_add(index, &entry) < 0)
			abort();
	}
	if (git_index_write_tree_to(&tree_id, index, repo) < 0 ||
	    git_tree_lookup(&tree, repo, &tree_id) < 0 ||
	    git_signature_new(&sig, "T", "t@example.com", 1700000000, 0) < 0 ||
	    git_commit_create(&id, repo, NULL, sig, sig, NULL, message, tree,
	                      parent ? 1 : 0,
	                      (const git_commit **)&parent_commit) < 0)
		abort();
	git_signature_free(sig);
	git_tree_free(tree);
	git_commit_free(parent_commit);
	git_index_free(index);
	return id;
}

static git_oid commit_on(git_repository *repo, const git_oid *parent,
                         const change *changes, size_t n, const char *message)
{
	file_change *files = calloc(n ? n : 1, sizeof(file_change));
	git_oid id;

	for (size_t i = 0; i < n; i++) {
		files[i].path = changes[i].path;
		files[i].content = changes[i].content;
	}
	id = commit_files(repo, parent, files, n, message);
	free(files);
	return id;
}

static void set_branch(git_repository *repo, const char *name,
                       const git_oid *id)
{
	git_reference *ref = NULL;
	char refname[256];

	snprintf(refname, sizeof(refname), "refs/heads/%s", name);
	if (git_reference_create(&ref, repo, refname, id, 1, NULL) < 0)
		abort();
	git_reference_free(ref);
}

static git_oid branch_at(git_repository *repo, const char *name)
{
	git_oid id;
	char refname[256];

	snprintf(refname, sizeof(refname), "refs/heads/%s", name);
	if (git_reference_name_to_id(&id, repo, refname) < 0)
		memset(&id, 0, sizeof(id));
	return id;
}

/* A base with three files of several lines each. */
static git_oid seed(git_repository *repo)
{
	static const change files[] = {
	    {"a.txt", "a1\na2\na3\na4\na5\na6\na7\n"},
	    {"b.txt", "b1\nb2\nb3\n"},
	    {"dir/c.txt", "c1\nc2\nc3\n"},
	};
	return commit_on(repo, NULL, files, 3, "seed\n");
}

static const char *join(const orch_strvec *vec)
{
	static char out[1024];
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < vec->count; i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s",
		                        i ? "," : "", vec->items[i]);
	return out;
}

TEST(the_conflict_list_has_a_path_a_line_and_quotes_those_git_quotes)
{
	orch_strvec paths = {0};
	char *list;

	list = orch_merge_conflict_list(&paths);
	CHECK_STR(list, "");
	free(list);
	orch_strvec_push(&paths, "dir/with space.c");
	orch_strvec_push(&paths, "new\nline");
	orch_strvec_push(&paths, "q\"uote\\");
	orch_strvec_push(&paths, "caf\xc3\xa9");
	list = orch_merge_conflict_list(&paths);
	CHECK_STR(list, "dir/with space.c\n\"new\\nline\"\n"
	                "\"q\\\"uote\\\\\"\ncaf\xc3\xa9\n");
	free(list);
	orch_strvec_free(&paths);
}

TEST(branches_touching_different_files_are_clean_and_not_merged_pairwise)
{
	git_repository *repo = new_repo(1);
	git_oid base = seed(repo), commits[2];
	const change ca = {"a.txt", "changed\n"}, cb = {"b.txt", "changed\n"};
	const char *ids[] = {"one", "two"};
	orch_merge_analysis *analysis = NULL;

	commits[0] = commit_on(repo, &base, &ca, 1, "one\n");
	commits[1] = commit_on(repo, &base, &cb, 1, "two\n");
	CHECK_INT(
	    orch_merge_analyze(&analysis, repo, &base, ids, commits, 2, 0), 0);
	CHECK(analysis != NULL);
	if (analysis) {
		CHECK_INT(analysis->branches[0].conflicts_base, 0);
		CHECK_INT(analysis->branches[1].conflicts_base, 0);
		CHECK_INT(analysis->npairs, 0);
		/* the base did not move (fast-forwards) and the pair shares no
		 * path */
		CHECK_INT(analysis->merges_done, 0);
		CHECK_INT(analysis->merges_skipped, 3);
	}
	orch_merge_analysis_free(analysis);
	git_repository_free(repo);
}

TEST(branch_conflicting_with_the_moved_base_is_reported_with_its_paths)
{
	git_repository *repo = new_repo(1);
	git_oid base = seed(repo), tip, commits[2];
	const change onbase = {"b.txt", "base changed b\n"};
	const change edit_b = {"b.txt", "task changed b\n"};
	const change edit_c = {"dir/c.txt", "task changed c\n"};
	const char *ids[] = {"bad", "fine"};
	orch_merge_analysis *analysis = NULL;

	tip = commit_on(repo, &base, &onbase, 1, "base moves\n");
	commits[0] = commit_on(repo, &base, &edit_b, 1, "bad\n");
	commits[1] = commit_on(repo, &base, &edit_c, 1, "fine\n");
	CHECK_INT(orch_merge_analyze(&analysis, repo, &tip, ids, commits, 2, 0),
	          0);
	if (analysis) {
		CHECK_INT(analysis->branches[0].conflicts_base, 1);
		CHECK_STR(join(&analysis->branches[0].paths), "b.txt");
		CHECK_INT(analysis->branches[1].conflicts_base, 0);
		CHECK_INT(analysis->branches[1].paths.count, 0);
	}
	orch_merge_analysis_free(analysis);
	git_repository_free(repo);
}

TEST(pairwise_conflict_names_both_tasks_and_the_paths)
{
	git_repository *repo = new_repo(1);
	git_oid base = seed(repo), commits[3];
	const change x[] = {{"a.txt", "x\n"}, {"b.txt", "x\n"}};
	const change y[] = {{"b.txt", "y\n"}};
	/* same file as x, different lines: merges cleanly */
	const change z[] = {{"dir/c.txt", "c1\nc2\nz\n"}};
	const char *ids[] = {"x", "y", "z"};
	orch_merge_analysis *analysis = NULL;
	const orch_strvec *paths = NULL;

	commits[0] = commit_on(repo, &base, x, 2, "x\n");
	commits[1] = commit_on(repo, &base, y, 1, "y\n");
	commits[2] = commit_on(repo, &base, z, 1, "z\n");
	CHECK_INT(
	    orch_merge_analyze(&analysis, repo, &base, ids, commits, 3, 0), 0);
	if (analysis) {
		CHECK_INT(analysis->npairs, 1);
		CHECK_INT(orch_merge_analysis_pair(&paths, analysis, 1, 0), 1);
		CHECK(paths && !strcmp(join(paths), "b.txt"));
		CHECK_INT(orch_merge_analysis_pair(NULL, analysis, 0, 2), 0);
		CHECK_INT(orch_merge_analysis_pair(NULL, analysis, 1, 2), 0);
		CHECK_INT(analysis->merges_done, 1);
	}
	orch_merge_analysis_free(analysis);
	git_repository_free(repo);
}

TEST(edits_to_different_lines_of_one_file_are_merged_not_assumed_to_conflict)
{
	git_repository *repo = new_repo(1);
	git_oid base = seed(repo), commits[2];
	const change top = {"a.txt", "TOP\na2\na3\na4\na5\na6\na7\n"};
	const change bottom = {"a.txt", "a1\na2\na3\na4\na5\na6\nBOTTOM\n"};
	const char *ids[] = {"top", "bottom"};
	orch_merge_analysis *analysis = NULL;

	commits[0] = commit_on(repo, &base, &top, 1, "top\n");
	commits[1] = commit_on(repo, &base, &bottom, 1, "bottom\n");
	CHECK_INT(
	    orch_merge_analyze(&analysis, repo, &base, ids, commits, 2, 0), 0);
	if (analysis) {
		CHECK_INT(analysis->merges_done,
		          1); /* shared path: really merged */
		CHECK_INT(analysis->npairs, 0);
	}
	orch_merge_analysis_free(analysis);
	git_repository_free(repo);
}

TEST(file_against_directory_of_the_same_name_is_a_conflict_the_first_pass_sees)
{
	git_repository *repo = new_repo(1);
	git_oid base = seed(repo), commits[2];
	const change file = {"new", "a file\n"};
	const change dir = {"new/inside", "a file in a directory\n"};
	const char *ids[] = {"file", "dir"};
	orch_merge_analysis *fast = NULL, *full = NULL;

	commits[0] = commit_on(repo, &base, &file, 1, "file\n");
	commits[1] = commit_on(repo, &base, &dir, 1, "dir\n");
	CHECK_INT(orch_merge_analyze(&fast, repo, &base, ids, commits, 2, 0),
	          0);
	CHECK_INT(orch_merge_analyze(&full, repo, &base, ids, commits, 2,
	                             ORCH_MERGE_ANALYZE_ALL),
	          0);
	if (fast && full) {
		CHECK_INT(full->npairs, 1);
		CHECK_INT(fast->npairs, full->npairs);
		CHECK_INT(fast->merges_done, 1);
	}
	orch_merge_analysis_free(fast);
	orch_merge_analysis_free(full);
	git_repository_free(repo);
}

/* The changes of orch_merge_changes as "path:old_mode>new_mode,...". */
static const char *changes_of(git_repository *repo, const git_oid *from,
                              const git_oid *to)
{
	static char out[1024];
	orch_merge_change *changes = NULL;
	size_t count = 0, len = 0;

	out[0] = '\0';
	if (orch_merge_changes(&changes, &count, repo, from, to) < 0)
		return "(error)";
	for (size_t i = 0; i < count; i++)
		len += (size_t)snprintf(
		    out + len, sizeof(out) - len, "%s%s:%o>%o", i ? "," : "",
		    changes[i].path, changes[i].old_mode, changes[i].new_mode);
	orch_merge_changes_free(changes, count);
	return out;
}

TEST(changed_files_are_listed_by_path_with_both_modes)
{
	git_repository *repo = new_repo(1);
	git_oid base = seed(repo), tip;
	const file_change edits[] = {
	    {"a.txt", "changed\n", 0, 0},
	    {"b.txt", NULL, 0, 0},
	    {"dir/e/new", "new\n", 0, 0},
	    {"dir-x", "beside dir\n", 0, 0},
	    {"dir/c.txt", "c1\nc2\nc3\n", GIT_FILEMODE_BLOB_EXECUTABLE, 0},
	};

	tip = commit_files(repo, &base, edits, 5, "edits\n");
	/* strcmp order ("dir-x" before "dir/"), not git's tree order */
	CHECK_STR(changes_of(repo, &base, &tip),
	          "a.txt:100644>100644,b.txt:100644>0,dir-x:0>100644,"
	          "dir/c.txt:100644>100755,dir/e/new:0>100644");
	CHECK_STR(changes_of(repo, &tip, &tip), "");
	git_repository_free(repo);
}

TEST(a_file_replaced_by_a_directory_is_a_deletion_and_additions)
{
	git_repository *repo = new_repo(1);
	git_oid base = seed(repo), mid, tip;
	const file_change to_dir[] = {{"b.txt", NULL, 0, 0},
	                              {"b.txt/in", "in\n", 0, 0}};
	const file_change to_file[] = {{"dir/c.txt", NULL, 0, 0},
	                               {"dir", "now a file\n", 0, 0}};

	mid = commit_files(repo, &base, to_dir, 2, "file to dir\n");
	tip = commit_files(repo, &mid, to_file, 2, "dir to file\n");
	CHECK_STR(changes_of(repo, &base, &mid),
	          "b.txt:100644>0,b.txt/in:0>100644");
	CHECK_STR(changes_of(repo, &mid, &tip),
	          "dir:0>100644,dir/c.txt:100644>0");
	git_repository_free(repo);
}

TEST(the_walk_never_reads_a_subtree_both_sides_share)
{
	git_repository *repo = new_repo(1), *reopened = NULL;
	git_oid base, tip;
	const file_change files[] = {{"a.txt", "a\n", 0, 0},
	                             {"shared/deep/f", "f\n", 0, 0}};
	const file_change edit = {"a.txt", "b\n", 0, 0};
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	const git_tree_entry *shared;
	char path[1024], hex[GIT_OID_HEXSZ + 1];

	base = commit_files(repo, NULL, files, 2, "base\n");
	tip = commit_files(repo, &base, &edit, 1, "tip\n");
	if (git_commit_lookup(&commit, repo, &base) < 0 ||
	    git_commit_tree(&tree, commit) < 0 ||
	    !(shared = git_tree_entry_byname(tree, "shared")))
		abort();
	/* remove the shared subtree from the object database */
	git_oid_tostr(hex, sizeof(hex), git_tree_entry_id(shared));
	snprintf(path, sizeof(path), "%sobjects/%.2s/%s",
	         git_repository_path(repo), hex, hex + 2);
	CHECK_INT(unlink(path), 0);
	if (git_repository_open(&reopened, git_repository_path(repo)) < 0)
		abort();
	CHECK_STR(changes_of(reopened, &base, &tip), "a.txt:100644>100644");
	git_tree_free(tree);
	git_commit_free(commit);
	git_repository_free(reopened);
	git_repository_free(repo);
}

/* The paths pair (0, 1) of an analysis conflicts on, "" when clean. */
static const char *pair_paths(git_repository *repo, const git_oid *base,
                              const file_change *a, size_t na,
                              const file_change *b, size_t nb)
{
	static char out[1024];
	const char *ids[] = {"a", "b"};
	git_oid commits[2];
	orch_merge_analysis *analysis = NULL;
	const orch_strvec *paths = NULL;

	commits[0] = commit_files(repo, base, a, na, "a\n");
	commits[1] = commit_files(repo, base, b, nb, "b\n");
	if (orch_merge_analyze(&analysis, repo, base, ids, commits, 2, 0) < 0)
		return "(error)";
	snprintf(out, sizeof(out), "%s",
	         orch_merge_analysis_pair(&paths, analysis, 0, 1) ? join(paths)
	                                                          : "");
	orch_merge_analysis_free(analysis);
	return out;
}

TEST(file_against_directory_is_reported_at_the_path_of_the_file)
{
	git_repository *repo = new_repo(1);
	git_oid base = seed(repo);
	const file_change file = {"new", "a file\n", 0, 0};
	const file_change in_dir = {"new/in", "in a directory\n", 0, 0};
	const file_change to_file[] = {{"dir/c.txt", NULL, 0, 0},
	                               {"dir", "now a file\n", 0, 0}};
	const file_change add_in_dir = {"dir/d.txt", "added\n", 0, 0};
	const file_change edit_in_dir = {"dir/c.txt", "c1\nc2\nC\n", 0, 0};
	const file_change drop_in_dir = {"dir/c.txt", NULL, 0, 0};
	const file_change to_dir[] = {{"b.txt", NULL, 0, 0},
	                              {"b.txt/in", "in\n", 0, 0}};
	const file_change drop_b = {"b.txt", NULL, 0, 0};

	/* git merge-tree names these new~a, dir~a: the file moved aside */
	CHECK_STR(pair_paths(repo, &base, &file, 1, &in_dir, 1), "new");
	CHECK_STR(pair_paths(repo, &base, to_file, 2, &add_in_dir, 1), "dir");
	/* and the file in the directory, deleted on one side only */
	CHECK_STR(pair_paths(repo, &base, to_file, 2, &edit_in_dir, 1),
	          "dir,dir/c.txt");
	/* nothing is left in the directory, or of the file */
	CHECK_STR(pair_paths(repo, &base, to_file, 2, &drop_in_dir, 1), "");
	CHECK_STR(pair_paths(repo, &base, to_dir, 2, &drop_b, 1), "");
	git_repository_free(repo);
}

TEST(delete_against_modify_conflicts_and_so_do_add_add_types_and_binaries)
{
	git_repository *repo = new_repo(1);
	git_oid base = seed(repo);
	const file_change drop = {"b.txt", NULL, 0, 0};
	const file_change edit = {"b.txt", "b1\nB\nb3\n", 0, 0};
	const file_change chmod_b = {"b.txt", "b1\nb2\nb3\n",
	                             GIT_FILEMODE_BLOB_EXECUTABLE, 0};
	const file_change edit_top = {"b.txt", "B\nb2\nb3\n", 0, 0};
	const file_change link_b = {"b.txt", "target", GIT_FILEMODE_LINK, 0};
	const file_change add_one = {"n", "one\n", 0, 0};
	const file_change add_two = {"n", "two\n", 0, 0};
	const file_change add_exec = {"n", "one\n",
	                              GIT_FILEMODE_BLOB_EXECUTABLE, 0};
	const file_change bin_one = {"a.txt", "bin\0one", 0, 7};
	const file_change bin_two = {"a.txt", "bin\0two", 0, 7};

	CHECK_STR(pair_paths(repo, &base, &drop, 1, &edit, 1), "b.txt");
	CHECK_STR(pair_paths(repo, &base, &edit, 1, &drop, 1), "b.txt");
	CHECK_STR(pair_paths(repo, &base, &drop, 1, &drop, 1), "");
	/* a mode change is a modification */
	CHECK_STR(pair_paths(repo, &base, &chmod_b, 1, &drop, 1), "b.txt");
	/* ... that merges with a change of the content */
	CHECK_STR(pair_paths(repo, &base, &chmod_b, 1, &edit_top, 1), "");
	/* a file against a link of one name */
	CHECK_STR(pair_paths(repo, &base, &link_b, 1, &edit, 1), "b.txt");
	CHECK_STR(pair_paths(repo, &base, &add_one, 1, &add_two, 1), "n");
	CHECK_STR(pair_paths(repo, &base, &add_one, 1, &add_one, 1), "");
	/* the same content added with two modes */
	CHECK_STR(pair_paths(repo, &base, &add_one, 1, &add_exec, 1), "n");
	CHECK_STR(pair_paths(repo, &base, &bin_one, 1, &bin_two, 1), "a.txt");
	git_repository_free(repo);
}

/* A small deterministic generator (the fixtures must not depend on libc). */
static unsigned long rng_state;
static unsigned rnd(unsigned n)
{
	rng_state = rng_state * 6364136223846793005UL + 1442695040888963407UL;
	return (unsigned)((rng_state >> 33) % n);
}

static int same_analysis(const orch_merge_analysis *a,
                         const orch_merge_analysis *b)
{
	if (a->nbranches != b->nbranches || a->npairs != b->npairs)
		return 0;
	for (size_t i = 0; i < a->nbranches; i++) {
		if (a->branches[i].conflicts_base !=
		    b->branches[i].conflicts_base)
			return 0;
		if (strcmp(join(&a->branches[i].paths),
		           join(&b->branches[i].paths)))
			return 0;
	}
	for (size_t i = 0; i < a->npairs; i++) {
		char pa[1024];
		if (a->pairs[i].a != b->pairs[i].a ||
		    a->pairs[i].b != b->pairs[i].b)
			return 0;
		snprintf(pa, sizeof(pa), "%s", join(&a->pairs[i].paths));
		if (strcmp(pa, join(&b->pairs[i].paths)))
			return 0;
	}
	return 1;
}

TEST(first_pass_gives_the_same_answer_as_merging_every_pair_on_random_fixtures)
{
	static const char *const paths[] = {"f0",   "f1",     "f2", "d/f3",
	                                    "d/f4", "d/e/f5", "g",  "g/h",
	                                    "d/e",  "f6"};
	const size_t npaths = sizeof(paths) / sizeof(paths[0]);
	size_t total_conflicts = 0, total_skipped = 0;

	for (unsigned seed_value = 1; seed_value <= 12; seed_value++) {
		git_repository *repo = new_repo(1);
		change initial[4];
		char contents[4][128];
		git_oid root, tip, forks[3], commits[8];
		const char *ids[8] = {"t0", "t1", "t2", "t3",
		                      "t4", "t5", "t6", "t7"};
		orch_merge_analysis *fast = NULL, *full = NULL;

		rng_state = seed_value;
		/* files of 9 lines so that edits of different lines merge */
		for (int i = 0; i < 4; i++) {
			snprintf(contents[i], sizeof(contents[i]),
			         "1\n2\n3\n4\n5\n6\n7\n8\n%d\n", i);
			initial[i].path = paths[i];
			initial[i].content = contents[i];
		}
		root = commit_on(repo, NULL, initial, 4, "root\n");
		forks[0] = root;
		{
			change moved = {paths[rnd(3)], "moved on base\n"};
			forks[1] =
			    commit_on(repo, &root, &moved, 1, "base 1\n");
			change moved2 = {paths[3 + rnd(2)],
			                 "1\n2\n3\n4\n5\n6\n7\n8\nbase\n"};
			forks[2] =
			    commit_on(repo, &forks[1], &moved2, 1, "base 2\n");
		}
		tip = forks[2];
		for (int t = 0; t < 8; t++) {
			change edits[3];
			char text[3][128];
			size_t n = 1 + rnd(3), kept = 0;
			for (size_t e = 0; e < n; e++) {
				const char *path = paths[rnd((unsigned)npaths)];
				int dup = 0;
				for (size_t k = 0; k < kept; k++)
					dup |= !strcmp(edits[k].path, path);
				/* a file and a directory of one name cannot
				 * both be in one tree */
				for (size_t k = 0; k < kept; k++) {
					size_t lp = strlen(path),
					       lk = strlen(edits[k].path);
					if ((lp < lk &&
					     !strncmp(path, edits[k].path,
					              lp) &&
					     edits[k].path[lp] == '/') ||
					    (lk < lp &&
					     !strncmp(path, edits[k].path,
					              lk) &&
					     path[lk] == '/'))
						dup = 1;
				}
				if (dup)
					continue;
				switch (rnd(4)) {
				case 0: /* a line near the top */
					snprintf(
					    text[kept], sizeof(text[kept]),
					    "T%u\n2\n3\n4\n5\n6\n7\n8\n9\n",
					    rnd(3));
					break;
				case 1: /* a line near the bottom */
					snprintf(
					    text[kept], sizeof(text[kept]),
					    "1\n2\n3\n4\n5\n6\n7\n8\nB%u\n",
					    rnd(3));
					break;
				case 2:
					snprintf(text[kept], sizeof(text[kept]),
					         "whole %u\n", rnd(2));
					break;
				default:
					text[kept][0] = '\0';
					break;
				}
				edits[kept].path = path;
				edits[kept].content =
				    text[kept][0] ? text[kept] : NULL;
				kept++;
			}
			commits[t] = commit_on(repo, &forks[rnd(3)], edits,
			                       kept, "task\n");
		}
		CHECK_INT(
		    orch_merge_analyze(&fast, repo, &tip, ids, commits, 8, 0),
		    0);
		CHECK_INT(orch_merge_analyze(&full, repo, &tip, ids, commits, 8,
		                             ORCH_MERGE_ANALYZE_ALL),
		          0);
		if (fast && full) {
			if (!same_analysis(fast, full) && !unit_failed) {
				unit_failed = 1;
				snprintf(unit_why, sizeof(unit_why),
				         "seed %u: first pass found %zu "
				         "conflicting pairs, full %zu",
				         seed_value, fast->npairs,
				         full->npairs);
			}
			total_conflicts += full->npairs;
			for (size_t i = 0; i < full->nbranches; i++)
				total_conflicts +=
				    (size_t)full->branches[i].conflicts_base;
			total_skipped += fast->merges_skipped;
			CHECK_INT(full->merges_done, 36);
		}
		orch_merge_analysis_free(fast);
		orch_merge_analysis_free(full);
		git_repository_free(repo);
	}
	/* the fixtures must exercise both answers and the skipping */
	CHECK(total_conflicts > 10);
	CHECK(total_skipped > 10);
}

static git_commit *lookup(git_repository *repo, const git_oid *id)
{
	git_commit *commit = NULL;

	if (git_commit_lookup(&commit, repo, id) < 0)
		abort();
	return commit;
}

static int blob_is(git_repository *repo, const git_oid *commit_id,
                   const char *path, const char *content)
{
	git_commit *commit = lookup(repo, commit_id);
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	git_blob *blob = NULL;
	int same = 0;

	if (git_commit_tree(&tree, commit) == 0 &&
	    git_tree_entry_bypath(&entry, tree, path) == 0 &&
	    git_blob_lookup(&blob, repo, git_tree_entry_id(entry)) == 0)
		same = (size_t)git_blob_rawsize(blob) == strlen(content) &&
		       !memcmp(git_blob_rawcontent(blob), content,
		               strlen(content));
	git_error_clear();
	git_blob_free(blob);
	git_tree_entry_free(entry);
	git_tree_free(tree);
	git_commit_free(commit);
	return same;
}

TEST(build_chains_merge_commits_and_leaves_out_the_conflicting_task)
{
	git_repository *repo = new_repo(1);
	git_oid base = seed(repo), tip;
	const change one = {"b.txt", "one\n"}, two = {"b.txt", "two\n"},
	             three = {"dir/c.txt", "three\n"};
	orch_merge_item items[3];
	git_commit *commit;

	memset(items, 0, sizeof(items));
	items[0].id = "one";
	items[0].commit = commit_on(repo, &base, &one, 1, "one\n");
	items[1].id = "two";
	items[1].commit = commit_on(repo, &base, &two, 1, "two\n");
	items[2].id = "three";
	items[2].commit = commit_on(repo, &base, &three, 1, "three\n");
	set_branch(repo, "main", &base);
	CHECK_INT(orch_merge_build(&tip, repo, &base, items, 3, "p", 0), 0);
	CHECK_INT(items[0].conflicted, 0);
	CHECK_INT(items[1].conflicted, 1);
	CHECK_STR(join(&items[1].paths), "b.txt");
	CHECK_INT(items[2].conflicted, 0);
	CHECK(git_oid_equal(&tip, &items[2].merged));
	commit = lookup(repo, &tip);
	CHECK_INT(git_commit_parentcount(commit), 2);
	CHECK(git_oid_equal(git_commit_parent_id(commit, 0), &items[0].merged));
	CHECK(git_oid_equal(git_commit_parent_id(commit, 1), &items[2].commit));
	CHECK(strstr(git_commit_message(commit),
	             "Merge task 'three' of plan 'p'") != NULL);
	CHECK(strstr(git_commit_message(commit), "Orchestrate-Task: three\n") !=
	      NULL);
	git_commit_free(commit);
	CHECK(blob_is(repo, &tip, "b.txt", "one\n"));
	CHECK(blob_is(repo, &tip, "dir/c.txt", "three\n"));
	/* no ref moved */
	git_oid at = branch_at(repo, "main");
	CHECK(git_oid_equal(&at, &base));
	for (int i = 0; i < 3; i++)
		orch_strvec_free(&items[i].paths);
	git_repository_free(repo);
}

TEST(start_commit_fast_forwards_a_single_dependency)
{
	git_repository *repo = new_repo(1);
	git_oid base = seed(repo), start;
	const change one = {"b.txt", "one\n"};
	git_oid dep = commit_on(repo, &base, &one, 1, "one\n");

	CHECK_INT(orch_merge_start_commit(&start, NULL, repo, &base, &dep, 1,
	                                  "p", "t"),
	          0);
	CHECK(git_oid_equal(&start, &dep));
	CHECK_INT(orch_merge_start_commit(&start, NULL, repo, &base, NULL, 0,
	                                  "p", "t"),
	          0);
	CHECK(git_oid_equal(&start, &base));
	git_repository_free(repo);
}

TEST(start_commit_merges_independent_dependencies_in_one_commit)
{
	git_repository *repo = new_repo(1);
	git_oid base = seed(repo), start, deps[2];
	const change one = {"b.txt", "one\n"}, two = {"dir/c.txt", "two\n"};
	git_commit *commit;

	deps[0] = commit_on(repo, &base, &one, 1, "one\n");
	deps[1] = commit_on(repo, &base, &two, 1, "two\n");
	CHECK_INT(orch_merge_start_commit(&start, NULL, repo, &base, deps, 2,
	                                  "p", "t"),
	          0);
	commit = lookup(repo, &start);
	CHECK_INT(git_commit_parentcount(commit), 2);
	CHECK(git_oid_equal(git_commit_parent_id(commit, 0), &deps[0]));
	CHECK(git_oid_equal(git_commit_parent_id(commit, 1), &deps[1]));
	CHECK(strstr(git_commit_message(commit), "Orchestrate-Plan: p\n") !=
	      NULL);
	git_commit_free(commit);
	CHECK(blob_is(repo, &start, "b.txt", "one\n"));
	CHECK(blob_is(repo, &start, "dir/c.txt", "two\n"));
	git_repository_free(repo);
}

/* The tree of the merge of `ours` and `theirs` as libgit2 makes it alone. */
static git_oid plain_merge_tree(const char *dir, const git_oid *ours,
                                const git_oid *theirs)
{
	git_repository *repo = NULL;
	git_commit *one = NULL, *two = NULL;
	git_index *index = NULL;
	git_oid tree;

	if (git_repository_open(&repo, dir) < 0 ||
	    git_commit_lookup(&one, repo, ours) < 0 ||
	    git_commit_lookup(&two, repo, theirs) < 0 ||
	    git_merge_commits(&index, repo, one, two, NULL) < 0 ||
	    git_index_has_conflicts(index) ||
	    git_index_write_tree_to(&tree, index, repo) < 0)
		abort();
	git_index_free(index);
	git_commit_free(one);
	git_commit_free(two);
	git_repository_free(repo);
	return tree;
}

/* 1 when commit `id` has tree `tree`. */
static int has_tree(git_repository *repo, const git_oid *id,
                    const git_oid *tree)
{
	git_commit *commit = lookup(repo, id);
	int same = git_oid_equal(git_commit_tree_id(commit), tree);

	git_commit_free(commit);
	return same;
}

TEST(start_commits_of_a_diamond_and_a_chain_are_the_plain_merges)
{
	git_repository *repo = new_repo(1);
	char dir[600];
	git_oid base = seed(repo), a, b, d_start, d, f, e_start, g_start,
	        deps[2], expect, parents[2];
	const change ca = {"a.txt", "a1\nA\na3\na4\na5\na6\na7\n"},
	             cb = {"b.txt", "b1\nB\nb3\n"},
	             cd = {"dir/c.txt", "c1\nc2\nD\n"},
	             cf = {"a.txt", "a1\nA\na3\na4\na5\na6\nF\n"};
	orch_commit_cache *cache = NULL;
	git_odb *odb = NULL;
	git_odb_object *object = NULL;
	git_commit *commit;
	char path[700], hex[GIT_OID_HEXSZ + 1];

	snprintf(dir, sizeof(dir), "%s", git_repository_path(repo));
	/* the diamond: d needs a and b, both on the base */
	a = commit_on(repo, &base, &ca, 1, "a\n");
	b = commit_on(repo, &base, &cb, 1, "b\n");
	deps[0] = a;
	deps[1] = b;
	CHECK_INT(orch_merge_start_commit(&d_start, NULL, repo, &base, deps, 2,
	                                  "p", "d"),
	          0);
	expect = plain_merge_tree(dir, &a, &b);
	CHECK(has_tree(repo, &d_start, &expect));
	d = commit_on(repo, &d_start, &cd, 1, "d\n");
	/* the chain: f on a; g needs f alone; e needs f and d (base: a) */
	f = commit_on(repo, &a, &cf, 1, "f\n");
	CHECK_INT(orch_merge_start_commit(&g_start, NULL, repo, &base, &f, 1,
	                                  "p", "g"),
	          0);
	CHECK(git_oid_equal(&g_start, &f));
	deps[0] = f;
	deps[1] = d;
	CHECK_INT(orch_merge_start_commit(&e_start, NULL, repo, &base, deps, 2,
	                                  "p", "e"),
	          0);
	commit = lookup(repo, &e_start);
	parents[0] = *git_commit_parent_id(commit, 0);
	parents[1] = *git_commit_parent_id(commit, 1);
	git_commit_free(commit);
	CHECK(git_oid_equal(&parents[0], &f));
	CHECK(git_oid_equal(&parents[1], &d));
	expect = plain_merge_tree(dir, &f, &d);
	CHECK(has_tree(repo, &e_start, &expect));
	CHECK(blob_is(repo, &e_start, "a.txt", cf.content));
	CHECK(blob_is(repo, &e_start, "b.txt", cb.content));
	CHECK(blob_is(repo, &e_start, "dir/c.txt", cd.content));

	/* the walks read each commit into memory once; it is served there */
	CHECK_INT(orch_commit_cache_get(&cache, repo), 0);
	CHECK(orch_commit_cache_count(cache) >= 4);
	git_oid_tostr(hex, sizeof(hex), &a);
	snprintf(path, sizeof(path), "%sobjects/%.2s/%s", dir, hex, hex + 2);
	CHECK_INT(unlink(path), 0);
	CHECK_INT(git_repository_odb(&odb, repo), 0);
	CHECK_INT(git_odb_read(&object, odb, &a), 0);
	if (object)
		CHECK_INT(git_odb_object_type(object), GIT_OBJECT_COMMIT);
	git_odb_object_free(object);
	git_odb_free(odb);
	git_repository_free(repo);
}

TEST(start_commits_from_commits_held_only_in_memory_by_another_backend)
{
	git_repository *repo = new_repo(1);
	git_oid base = seed(repo), start, deps[2];
	const change one = {"b.txt", "one\n"}, two = {"dir/c.txt", "two\n"};
	git_odb_backend *mempack = NULL;
	git_odb *odb = NULL;

	CHECK_INT(git_repository_odb(&odb, repo), 0);
	CHECK_INT(git_mempack_new(&mempack), 0);
	CHECK_INT(git_odb_add_backend(odb, mempack, 999), 0);
	/* written into the mempack, not the objects directory */
	deps[0] = commit_on(repo, &base, &one, 1, "one\n");
	deps[1] = commit_on(repo, &base, &two, 1, "two\n");
	for (int round = 0; round < 2; round++) {
		CHECK_INT(orch_merge_start_commit(&start, NULL, repo, &base,
		                                  deps, 2, "p", "t"),
		          0);
		CHECK(blob_is(repo, &start, "b.txt", "one\n"));
		CHECK(blob_is(repo, &start, "dir/c.txt", "two\n"));
	}
	git_odb_free(odb);
	git_repository_free(repo);
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A commit of `changes` on `first` with a second parent `second`. */
static git_oid merge_commit_on(git_repository *repo, const git_oid *first,
                               const git_oid *second, const change *changes,
                               size_t n)
{
	git_oid one = commit_on(repo, first, changes, n, "merge\n"), id;
	git_commit *parents[2] = {lookup(repo, first), lookup(repo, second)};
	git_commit *made = lookup(repo, &one);
	git_tree *tree = NULL;

	if (git_commit_tree(&tree, made) < 0 ||
	    git_commit_create(&id, repo, NULL, git_commit_author(made),
	                      git_commit_committer(made), NULL, "merge\n", tree,
	                      2, (const git_commit **)parents) < 0)
		abort();
	git_tree_free(tree);
	git_commit_free(made);
	git_commit_free(parents[0]);
	git_commit_free(parents[1]);
	return id;
}

/*
 * The start commit as libgit2 alone made it before start commits kept
 * anything (a repository of its own, no cache): dependencies in order,
 * ancestors skipped, fast-forwards, else git_merge_commits. Its tree and
 * its number of parents; ORCH_ECONFLICT with the paths. *multi counts
 * merges with several merge bases.
 */
static int reference_start(git_oid *out_tree, unsigned *out_parents,
                           orch_strvec *conflicts, size_t *multi,
                           const char *dir, const git_oid *base,
                           const git_oid *deps, size_t n)
{
	git_repository *repo = NULL;
	git_oid current = *base;
	git_signature *sig = NULL;
	git_commit *commit;
	int error = 0;

	if (git_repository_open(&repo, dir) < 0 ||
	    git_signature_new(&sig, "R", "r@example.com", 1700000000, 0) < 0)
		abort();
	for (size_t i = 0; i < n; i++) {
		git_commit *parents[2];
		git_index *index = NULL;
		git_tree *tree = NULL;
		git_oidarray bases = {0};
		git_oid tree_id;

		if (git_oid_equal(&current, &deps[i]) ||
		    git_graph_descendant_of(repo, &current, &deps[i]) == 1)
			continue;
		if (git_graph_descendant_of(repo, &deps[i], &current) == 1) {
			current = deps[i];
			continue;
		}
		if (git_merge_bases(&bases, repo, &current, &deps[i]) == 0 &&
		    bases.count > 1)
			(*multi)++;
		git_oidarray_dispose(&bases);
		git_error_clear();
		parents[0] = lookup(repo, &current);
		parents[1] = lookup(repo, &deps[i]);
		if (git_merge_commits(&index, repo, parents[0], parents[1],
		                      NULL) < 0)
			abort();
		if (git_index_has_conflicts(index)) {
			git_index_conflict_iterator *iter = NULL;
			const git_index_entry *e[3];
			if (git_index_conflict_iterator_new(&iter, index) < 0)
				abort();
			while (!git_index_conflict_next(&e[0], &e[1], &e[2],
			                                iter)) {
				const char *path = e[1]   ? e[1]->path
				                   : e[2] ? e[2]->path
				                          : e[0]->path;
				if (!orch_strvec_contains(conflicts, path))
					orch_strvec_push(conflicts, path);
			}
			git_index_conflict_iterator_free(iter);
			error = ORCH_ECONFLICT;
		} else if (git_index_write_tree_to(&tree_id, index, repo) < 0 ||
		           git_tree_lookup(&tree, repo, &tree_id) < 0 ||
		           git_commit_create(&current, repo, NULL, sig, sig,
		                             NULL, "reference\n", tree, 2,
		                             (const git_commit **)parents) <
		               0) {
			abort();
		}
		git_tree_free(tree);
		git_index_free(index);
		git_commit_free(parents[0]);
		git_commit_free(parents[1]);
		if (error)
			goto done;
	}
	commit = lookup(repo, &current);
	*out_tree = *git_commit_tree_id(commit);
	*out_parents = git_commit_parentcount(commit);
	git_commit_free(commit);
done:
	git_signature_free(sig);
	git_repository_free(repo);
	return error;
}

/* The start commit agrees with reference_start; returns the error. */
static int start_as_before(git_oid *out, size_t *multi, git_repository *repo,
                           const git_oid *base, const git_oid *deps, size_t n,
                           const char *task)
{
	orch_strvec got = {0}, expected = {0};
	git_oid tree;
	unsigned parents = 0;
	int error, want;
	git_commit *commit;

	want = reference_start(&tree, &parents, &expected, multi,
	                       git_repository_path(repo), base, deps, n);
	/* tasks of distinct names: a start commit is never made twice */
	error =
	    orch_merge_start_commit(out, &got, repo, base, deps, n, "p", task);
	CHECK_INT(error, want);
	if (error == 0 && want == 0) {
		commit = lookup(repo, out);
		CHECK(git_oid_equal(git_commit_tree_id(commit), &tree));
		CHECK_INT(git_commit_parentcount(commit), parents);
		git_commit_free(commit);
	}
	if (expected.count > 1)
		qsort(expected.items, expected.count, sizeof(char *), cmp_path);
	CHECK_STR(join(&got), join(&expected));
	orch_strvec_free(&got);
	orch_strvec_free(&expected);
	return error;
}

/* Lines of file `path` at `commit` with line `line` set to `text`. */
static char *edited(git_repository *repo, const git_oid *commit_id,
                    const char *path, unsigned line, const char *text)
{
	git_commit *commit = lookup(repo, commit_id);
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	git_blob *blob = NULL;
	char lines[24][64], *out = calloc(24, 64);
	unsigned n = 0;

	for (unsigned i = 0; i < 24; i++)
		snprintf(lines[i], sizeof(lines[i]), "%s %u\n", path, i);
	if (git_commit_tree(&tree, commit) == 0 &&
	    git_tree_entry_bypath(&entry, tree, path) == 0 &&
	    git_blob_lookup(&blob, repo, git_tree_entry_id(entry)) == 0) {
		const char *p = git_blob_rawcontent(blob),
		           *end = p + git_blob_rawsize(blob);
		while (p < end && n < 24) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len =
			    nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
			snprintf(lines[n++], sizeof(lines[0]), "%.*s", (int)len,
			         p);
			p += len;
		}
	}
	git_error_clear();
	snprintf(lines[line % 24], sizeof(lines[0]), "%s\n", text);
	for (unsigned i = 0; i < 24; i++)
		strcat(out, lines[i]);
	git_blob_free(blob);
	git_tree_entry_free(entry);
	git_tree_free(tree);
	git_commit_free(commit);
	return out;
}

/*
 * Tasks of 1 to 3 dependencies among the 10 before, each editing lines of
 * shared files (now and then deleting one) on its start commit: criss-cross
 * histories with several merge bases, clean merges of one file and
 * conflicts, every start commit compared with libgit2's plain merges.
 */
TEST(start_commits_of_random_plans_with_real_changes_are_libgit2s_merges)
{
	enum { TASKS = 200 };
	static const char *const files[] = {"f0.txt",   "f1.txt",    "f2.txt",
	                                    "f3.txt",   "d/f4.txt",  "d/f5.txt",
	                                    "d/f6.txt", "d/e/f7.txt"};
	git_repository *repo = new_repo(1);
	git_oid base = seed(repo), results[TASKS], deps[3], start;
	int done[TASKS] = {0};
	size_t multi = 0, conflicted = 0, merged = 0, pairs = 0;
	unsigned rng = 12345;
	orch_commit_cache *cache = NULL;
	change edit[2];
	char *content[2];

	for (size_t t = 0; t < TASKS && !unit_failed; t++) {
		size_t n = 0, want = 1 + (rng = rng * 1103515245 + 12345) % 3;
		char task[32];

		for (size_t tries = 0; tries < 12 && n < want && t; tries++) {
			size_t back = 1 + (rng = rng * 1103515245 + 12345) % 10,
			       d;
			int seen = 0;
			if (back > t || !done[t - back])
				continue;
			d = t - back;
			for (size_t k = 0; k < n; k++)
				seen |= git_oid_equal(&deps[k], &results[d]);
			if (!seen)
				deps[n++] = results[d];
		}
		snprintf(task, sizeof(task), "t%zu", t);
		if (start_as_before(&start, &multi, repo, &base, deps, n,
		                    task) == ORCH_ECONFLICT) {
			conflicted++;
			continue;
		}
		if (n > 1)
			merged++;
		for (size_t k = 0; k < 2; k++) {
			char text[32];
			rng = rng * 1103515245 + 12345;
			snprintf(text, sizeof(text), "task %zu edit %zu", t, k);
			edit[k].path = files[(rng >> 8) % 8];
			content[k] = edited(repo, &start, edit[k].path,
			                    (rng >> 16) % 24, text);
			/* now and then a file goes */
			edit[k].content =
			    k && (rng >> 24) % 12 == 0 ? NULL : content[k];
		}
		results[t] = commit_on(repo, &start, edit, 2, "task\n");
		free(content[0]);
		free(content[1]);
		done[t] = 1;
	}
	/* the plan had what this test is about */
	CHECK(multi >= 10);
	CHECK(conflicted >= 3);
	CHECK(merged >= 20);

	/* merge bases by generation are libgit2's, as sets */
	CHECK_INT(orch_commit_cache_get(&cache, repo), 0);
	orch_commit_cache_fill(cache, 1);
	for (size_t a = 0; a < TASKS; a += 3) {
		for (size_t b = a + 1; b < TASKS; b += 5) {
			git_oidarray want = {0};
			git_oid *got = NULL;
			size_t ngot = 0, same = 0;
			if (!done[a] || !done[b])
				continue;
			CHECK_INT(
			    orch_commit_cache_merge_bases(
			        &got, &ngot, cache, &results[a], &results[b]),
			    0);
			if (git_merge_bases(&want, repo, &results[a],
			                    &results[b]) < 0)
				git_error_clear();
			for (size_t i = 0; i < ngot; i++)
				for (size_t j = 0; j < want.count; j++)
					same += git_oid_equal(&got[i],
					                      &want.ids[j]);
			CHECK_INT(ngot, want.count);
			CHECK_INT(same, want.count);
			/* and so is ancestry, asked of the newer one */
			CHECK_INT(orch_commit_cache_reaches(cache, &results[b],
			                                    &results[a]),
			          git_graph_descendant_of(repo, &results[b],
			                                  &results[a]));
			CHECK_INT(orch_commit_cache_reaches(cache, &results[b],
			                                    &base),
			          1);
			pairs += want.count > 1;
			free(got);
			git_oidarray_dispose(&want);
		}
	}
	orch_commit_cache_fill(cache, 0);
	CHECK(pairs >= 10);
	git_repository_free(repo);
}

TEST(start_commits_of_criss_crosses_whose_bases_conflict_are_libgit2s_merges)
{
	git_repository *repo = new_repo(1);
	git_oid base = seed(repo), a, b, m1, m2, x, y, start, deps[2];
	const change ca = {"b.txt", "b1\nA\nb3\n"},
	             cb = {"b.txt", "b1\nB\nb3\n"}, gone = {"b.txt", NULL},
	             cx = {"x.txt", "x\n"}, cy = {"dir/y.txt", "y\n"},
	             cy2 = {"b.txt", "b1\nY\nb3\n"};
	orch_commit_cache *cache = NULL;
	size_t multi = 0, remembered;

	/* A and B change one line two ways; each side of the cross keeps its
	 * own, so the virtual base of X and Y holds conflict markers */
	a = commit_on(repo, &base, &ca, 1, "a\n");
	b = commit_on(repo, &base, &cb, 1, "b\n");
	m1 = merge_commit_on(repo, &a, &b, &ca, 1);
	m2 = merge_commit_on(repo, &b, &a, &cb, 1);
	x = commit_on(repo, &m1, &cx, 1, "x\n");
	y = commit_on(repo, &m2, &cy, 1, "y\n");
	deps[0] = x;
	deps[1] = y;
	CHECK_INT(start_as_before(&start, &multi, repo, &base, deps, 2, "t"),
	          ORCH_ECONFLICT);
	/* the same when Y settles the line its own way: clean or not, as
	 * libgit2 says */
	y = commit_on(repo, &m2, &cy2, 1, "y2\n");
	deps[1] = y;
	start_as_before(&start, &multi, repo, &base, deps, 2, "t");
	deps[0] = y;
	deps[1] = x;
	start_as_before(&start, &multi, repo, &base, deps, 2, "t");

	/* A deletes the file B changes: the virtual base keeps a conflict
	 * in its index, which libgit2 leaves out of the base */
	a = commit_on(repo, &base, &gone, 1, "a gone\n");
	m1 = merge_commit_on(repo, &a, &b, &gone, 1);
	m2 = merge_commit_on(repo, &b, &a, &cb, 1);
	x = commit_on(repo, &m1, &cx, 1, "x\n");
	y = commit_on(repo, &m2, &cy, 1, "y\n");
	deps[0] = x;
	deps[1] = y;
	start_as_before(&start, &multi, repo, &base, deps, 2, "t");
	deps[0] = y;
	deps[1] = x;
	start_as_before(&start, &multi, repo, &base, deps, 2, "t");

	/* three merge bases, two of them a clean pair: cross A, B and C */
	{
		const change cc = {"a.txt", "a1\na2\na3\na4\na5\na6\nC\n"};
		git_oid c = commit_on(repo, &base, &cc, 1, "c\n"), ab, ba, p, q;
		const change none = {"z.txt", "z\n"};
		a = commit_on(repo, &base, &cx, 1, "a3\n");
		b = commit_on(repo, &base, &cy, 1, "b3\n");
		ab = merge_commit_on(repo, &a, &b, &none, 1);
		ba = merge_commit_on(repo, &b, &a, &none, 1);
		p = merge_commit_on(repo, &ab, &c, &ca, 1);
		q = merge_commit_on(repo, &ba, &c, &cb, 1);
		deps[0] = p;
		deps[1] = q;
		start_as_before(&start, &multi, repo, &base, deps, 2, "t");
	}
	CHECK(multi >= 5);

	/* what the merges found is remembered, and used again */
	CHECK_INT(orch_commit_cache_get(&cache, repo), 0);
	remembered = orch_commit_cache_memo_count(cache);
	CHECK(remembered > 0);
	start_as_before(&start, &multi, repo, &base, deps, 2, "t");
	CHECK_INT(orch_commit_cache_memo_count(cache), remembered);
	git_repository_free(repo);
}

/*
 * Generations count from the commit a run starts from: results from below
 * it, or that merged older history, are answered by libgit2, the same.
 */
TEST(start_commits_from_results_below_the_base_are_libgit2s_merges)
{
	git_repository *repo = new_repo(1);
	git_oid root = seed(repo), base, x, y, z, old, start, deps[3];
	const change cb = {"b.txt", "b1\nb2\nB\n"}, cx = {"x.txt", "x\n"},
	             cy = {"a.txt", "A\na2\na3\na4\na5\na6\na7\n"},
	             cz = {"z.txt", "z\n"};
	orch_commit_cache *cache = NULL;
	size_t multi = 0;
	git_oid *bases = NULL;
	size_t nbases = 0;

	base = commit_on(repo, &root, &cb, 1, "base\n");
	x = commit_on(repo, &base, &cx, 1, "x\n");
	old = commit_on(repo, &root, &cy, 1, "old\n");
	z = commit_on(repo, &old, &cz, 1, "z\n");
	y = merge_commit_on(repo, &x, &z, &cz, 1);
	deps[0] = x;
	deps[1] = z; /* from below the base */
	deps[2] = y; /* merged history from below the base */
	CHECK_INT(start_as_before(&start, &multi, repo, &base, deps, 3, "t"),
	          0);
	CHECK_INT(
	    start_as_before(&start, &multi, repo, &base, deps + 1, 2, "u"), 0);
	/* above the floor the cache answers; below it, it says to ask */
	CHECK_INT(orch_commit_cache_get(&cache, repo), 0);
	orch_commit_cache_fill(cache, 1);
	CHECK_INT(
	    orch_commit_cache_merge_bases(&bases, &nbases, cache, &x, &base),
	    0);
	CHECK_INT(nbases, 1);
	if (nbases)
		CHECK(git_oid_equal(&bases[0], &base));
	free(bases);
	CHECK_INT(orch_commit_cache_merge_bases(&bases, &nbases, cache, &x, &z),
	          1);
	CHECK_INT(orch_commit_cache_reaches(cache, &x, &base), 1);
	CHECK_INT(orch_commit_cache_reaches(cache, &y, &base), -1);
	CHECK_INT(orch_commit_cache_reaches(cache, &x, &root), -1);
	orch_commit_cache_fill(cache, 0);
	git_repository_free(repo);
}

TEST(start_commit_of_dependencies_with_one_tree_is_a_merge_with_that_tree)
{
	git_repository *repo = new_repo(1);
	git_oid base = seed(repo), start, deps[2];
	const change same = {"b.txt", "same\n"};
	size_t multi = 0;
	git_commit *commit;

	deps[0] = commit_on(repo, &base, &same, 1, "one\n");
	deps[1] = commit_on(repo, &base, &same, 1, "two\n");
	CHECK_INT(start_as_before(&start, &multi, repo, &base, deps, 2, "t"),
	          0);
	commit = lookup(repo, &start);
	CHECK_INT(git_commit_parentcount(commit), 2);
	CHECK(git_oid_equal(git_commit_parent_id(commit, 1), &deps[1]));
	git_commit_free(commit);
	CHECK(blob_is(repo, &start, "b.txt", "same\n"));

	/* the same renames and copies on both sides, across a cross */
	{
		const change moved[] = {{"b.txt", NULL},
		                        {"moved.txt", "b1\nb2\nb3\n"},
		                        {"copy.txt", "b1\nb2\nb3\n"}};
		git_oid one = commit_on(repo, &base, moved, 3, "one\n"),
		        two = commit_on(repo, &base, moved, 3, "two\n");
		deps[0] = merge_commit_on(repo, &one, &two, NULL, 0);
		deps[1] = merge_commit_on(repo, &two, &one, NULL, 0);
		CHECK_INT(
		    start_as_before(&start, &multi, repo, &base, deps, 2, "u"),
		    0);
		CHECK(blob_is(repo, &start, "moved.txt", "b1\nb2\nb3\n"));
		CHECK_INT(multi, 1);
	}
	git_repository_free(repo);
}

TEST(start_commit_of_conflicting_dependencies_names_the_paths)
{
	git_repository *repo = new_repo(1);
	git_oid base = seed(repo), start, deps[2];
	const change one = {"b.txt", "one\n"}, two = {"b.txt", "two\n"};
	orch_strvec conflicts = {0};

	deps[0] = commit_on(repo, &base, &one, 1, "one\n");
	deps[1] = commit_on(repo, &base, &two, 1, "two\n");
	CHECK_INT(orch_merge_start_commit(&start, &conflicts, repo, &base, deps,
	                                  2, "p", "t"),
	          ORCH_ECONFLICT);
	CHECK_STR(join(&conflicts), "b.txt");
	CHECK_STR(orch_error_message(),
	          "the dependencies of task 't' conflict with each other");
	orch_strvec_free(&conflicts);
	git_repository_free(repo);
}

TEST(squash_builds_one_single_parent_commit_per_task)
{
	git_repository *repo = new_repo(1);
	git_oid base = seed(repo), tip;
	const change one = {"b.txt", "one\n"};
	orch_merge_item item;
	git_commit *commit;

	memset(&item, 0, sizeof(item));
	item.id = "one";
	item.commit = commit_on(repo, &base, &one, 1, "make one\n");
	CHECK_INT(orch_merge_build(&tip, repo, &base, &item, 1, "p",
	                           ORCH_MERGE_SQUASH),
	          0);
	commit = lookup(repo, &tip);
	CHECK_INT(git_commit_parentcount(commit), 1);
	CHECK(git_oid_equal(git_commit_parent_id(commit, 0), &base));
	CHECK(strncmp(git_commit_message(commit), "p/one: make one", 15) == 0);
	git_commit_free(commit);
	CHECK(blob_is(repo, &tip, "b.txt", "one\n"));
	orch_strvec_free(&item.paths);
	git_repository_free(repo);
}

static size_t count_worktrees(git_repository *repo)
{
	git_strarray names = {0};
	size_t n;

	if (git_worktree_list(&names, repo) < 0)
		abort();
	n = names.count;
	git_strarray_dispose(&names);
	return n;
}

static size_t count_branches(git_repository *repo)
{
	git_branch_iterator *iter = NULL;
	git_reference *ref;
	git_branch_t type;
	size_t n = 0;

	if (git_branch_iterator_new(&iter, repo, GIT_BRANCH_LOCAL) < 0)
		abort();
	while (git_branch_next(&ref, &type, iter) == 0) {
		n++;
		git_reference_free(ref);
	}
	git_branch_iterator_free(iter);
	return n;
}

TEST(verify_runs_in_a_temporary_worktree_of_the_commit_and_removes_it)
{
	git_repository *repo = new_repo(0);
	git_oid base = seed(repo);
	orch_buf output = {0};
	int status = -7;

	set_branch(repo, "main", &base);
	CHECK_INT(
	    orch_merge_verify(
	        &status, &output, repo, &base,
	        "test -f dir/c.txt && echo \"ok $ORCHESTRATE_PLAN\" && "
	        "test \"$(git rev-parse HEAD)\" = \"$ORCHESTRATE_COMMIT\"",
	        "p"),
	    0);
	CHECK_INT(status, 0);
	CHECK_STR(output.ptr, "ok p\n");
	orch_buf_clear(&output);
	CHECK_INT(orch_merge_verify(&status, &output, repo, &base,
	                            "echo broken; exit 3", "p"),
	          0);
	CHECK_INT(status, 3);
	CHECK_STR(output.ptr, "broken\n");
	CHECK_INT(count_worktrees(repo), 0);
	CHECK_INT(count_branches(repo), 1);
	orch_buf_free(&output);
	git_repository_free(repo);
}

TEST(moving_a_branch_that_moved_meanwhile_overwrites_nothing)
{
	git_repository *repo = new_repo(1);
	git_oid base = seed(repo), theirs, ours, at;
	const change a = {"a.txt", "someone else\n"}, b = {"b.txt", "ours\n"};

	theirs = commit_on(repo, &base, &a, 1, "theirs\n");
	ours = commit_on(repo, &base, &b, 1, "ours\n");
	set_branch(repo, "main", &theirs);
	CHECK_INT(orch_merge_move_branch(repo, "main", &base, &ours, "test"),
	          ORCH_EMODIFIED);
	at = branch_at(repo, "main");
	CHECK(git_oid_equal(&at, &theirs));
	CHECK_INT(orch_merge_move_branch(repo, "main", &theirs, &ours, "test"),
	          0);
	at = branch_at(repo, "main");
	CHECK(git_oid_equal(&at, &ours));
	git_repository_free(repo);
}

/* A non-bare repository with main checked out at `base` (files on disk). */
static git_repository *checked_out_repo(git_oid *out_base)
{
	git_repository *repo = new_repo(0);
	git_checkout_options opts;
	git_commit *commit;

	*out_base = seed(repo);
	set_branch(repo, "main", out_base);
	if (git_repository_set_head(repo, "refs/heads/main") < 0)
		abort();
	git_checkout_options_init(&opts, GIT_CHECKOUT_OPTIONS_VERSION);
	opts.checkout_strategy = GIT_CHECKOUT_FORCE;
	commit = lookup(repo, out_base);
	if (git_checkout_tree(repo, (git_object *)commit, &opts) < 0)
		abort();
	git_commit_free(commit);
	return repo;
}

static int file_is(git_repository *repo, const char *path, const char *content)
{
	char full[1024];
	orch_buf buf = {0};
	int same;

	snprintf(full, sizeof(full), "%s%s", git_repository_workdir(repo),
	         path);
	if (orch_read_file(&buf, full) < 0) {
		orch_error_clear();
		return 0;
	}
	same = !strcmp(buf.ptr, content);
	orch_buf_free(&buf);
	return same;
}

TEST(moving_a_checked_out_clean_branch_updates_its_files_and_index)
{
	git_oid base, next, at;
	git_repository *repo = checked_out_repo(&base);
	const change b = {"b.txt", "merged\n"};
	char *where = NULL;
	int dirty = -1;

	next = commit_on(repo, &base, &b, 1, "next\n");
	CHECK_INT(orch_merge_checkout_state(&where, &dirty, repo, "main"), 0);
	CHECK(where != NULL);
	CHECK_INT(dirty, 0);
	free(where);
	CHECK_INT(orch_merge_move_branch(repo, "main", &base, &next, "test"),
	          0);
	at = branch_at(repo, "main");
	CHECK(git_oid_equal(&at, &next));
	CHECK(file_is(repo, "b.txt", "merged\n"));
	CHECK_INT(orch_merge_checkout_state(&where, &dirty, repo, "main"), 0);
	CHECK_INT(dirty, 0); /* index and files match the new tip */
	free(where);
	git_repository_free(repo);
}

TEST(moving_a_checked_out_dirty_branch_is_refused_and_nothing_moves)
{
	git_oid base, next, at;
	git_repository *repo = checked_out_repo(&base);
	const change b = {"b.txt", "merged\n"};
	char path[1024];
	FILE *f;

	next = commit_on(repo, &base, &b, 1, "next\n");
	snprintf(path, sizeof(path), "%sa.txt", git_repository_workdir(repo));
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("local edit\n", f);
		fclose(f);
	}
	CHECK_INT(orch_merge_move_branch(repo, "main", &base, &next, "test"),
	          ORCH_ELOCKED);
	CHECK(strstr(orch_error_message(), "uncommitted changes") != NULL);
	at = branch_at(repo, "main");
	CHECK(git_oid_equal(&at, &base));
	CHECK(file_is(repo, "a.txt", "local edit\n"));
	CHECK(file_is(repo, "b.txt", "b1\nb2\nb3\n"));
	git_repository_free(repo);
}

TEST(a_branch_checked_out_nowhere_has_no_checkout_state)
{
	git_oid base;
	git_repository *repo = checked_out_repo(&base);
	char *where = NULL;
	int dirty = -1;

	set_branch(repo, "other", &base);
	CHECK_INT(orch_merge_checkout_state(&where, &dirty, repo, "other"), 0);
	CHECK(where == NULL);
	CHECK_INT(dirty, 0);
	git_repository_free(repo);
}

static const unit_test tests[] = {
    T(the_conflict_list_has_a_path_a_line_and_quotes_those_git_quotes),
    T(branches_touching_different_files_are_clean_and_not_merged_pairwise),
    T(branch_conflicting_with_the_moved_base_is_reported_with_its_paths),
    T(pairwise_conflict_names_both_tasks_and_the_paths),
    T(edits_to_different_lines_of_one_file_are_merged_not_assumed_to_conflict),
    T(file_against_directory_of_the_same_name_is_a_conflict_the_first_pass_sees),
    T(first_pass_gives_the_same_answer_as_merging_every_pair_on_random_fixtures),
    T(changed_files_are_listed_by_path_with_both_modes),
    T(a_file_replaced_by_a_directory_is_a_deletion_and_additions),
    T(the_walk_never_reads_a_subtree_both_sides_share),
    T(file_against_directory_is_reported_at_the_path_of_the_file),
    T(delete_against_modify_conflicts_and_so_do_add_add_types_and_binaries),
    T(build_chains_merge_commits_and_leaves_out_the_conflicting_task),
    T(squash_builds_one_single_parent_commit_per_task),
    T(start_commit_fast_forwards_a_single_dependency),
    T(start_commit_merges_independent_dependencies_in_one_commit),
    T(start_commit_of_conflicting_dependencies_names_the_paths),
    T(start_commits_of_random_plans_with_real_changes_are_libgit2s_merges),
    T(start_commits_of_criss_crosses_whose_bases_conflict_are_libgit2s_merges),
    T(start_commit_of_dependencies_with_one_tree_is_a_merge_with_that_tree),
    T(start_commits_from_results_below_the_base_are_libgit2s_merges),
    T(start_commits_of_a_diamond_and_a_chain_are_the_plain_merges),
    T(start_commits_from_commits_held_only_in_memory_by_another_backend),
    T(verify_runs_in_a_temporary_worktree_of_the_commit_and_removes_it),
    T(moving_a_branch_that_moved_meanwhile_overwrites_nothing),
    T(moving_a_checked_out_clean_branch_updates_its_files_and_index),
    T(moving_a_checked_out_dirty_branch_is_refused_and_nothing_moves),
    T(a_branch_checked_out_nowhere_has_no_checkout_state),
};

/* libgit2 must be set up before the first test and torn down after the last. */
__attribute__((constructor)) static void setup_libgit2(void)
{
	git_libgit2_init();
}

__attribute__((destructor)) static void teardown_libgit2(void)
{
	git_libgit2_shutdown();
}

UNIT_MAIN(tests)
