#include "unit.h"
#include "util.h"

TEST(ids_follow_the_ref_safe_rules)
{
	static const struct {
		const char *id;
		int valid;
	} cases[] = {
	    {"auth-api", 1},    {"A.b_c-9", 1}, {"x", 1},       {"", 0},
	    {".hidden", 0},     {"-flag", 0},   {"a..b", 0},    {"x.lock", 0},
	    {"a b", 0},         {"a/b", 0},     {"$(rm)", 0},   {"a;b", 0},
	    {"caf\xc3\xa9", 0}, {"lock", 1},    {"a.lockx", 1},
	};
	char long_id[102];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_INT(orch_id_valid(cases[i].id), cases[i].valid);
	memset(long_id, 'a', 100);
	long_id[100] = '\0';
	CHECK_INT(orch_id_valid(long_id), 1);
	long_id[100] = 'a';
	long_id[101] = '\0';
	CHECK_INT(orch_id_valid(long_id), 0);
}

TEST(durations_parse_with_their_suffixes)
{
	static const struct {
		const char *text;
		int ok;
		int64_t ms;
	} cases[] = {
	    {"30m", 0, 1800000}, {"1h", 0, 3600000}, {"90", 0, 90000},
	    {"5s", 0, 5000},     {"250ms", 0, 250},  {"1.5s", 0, 1500},
	    {"soon", -1, 0},     {"", -1, 0},        {"-1s", -1, 0},
	    {"5d", -1, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = -7;
		int ok = orch_parse_duration(&ms, cases[i].text);
		CHECK_INT(ok, cases[i].ok);
		if (ok == 0)
			CHECK_INT(ms, cases[i].ms);
	}
}

TEST(durations_format_like_the_log_messages)
{
	char buf[32];

	orch_format_duration(buf, sizeof(buf), 850);
	CHECK_STR(buf, "850ms");
	orch_format_duration(buf, sizeof(buf), 4200);
	CHECK_STR(buf, "4.2s");
	orch_format_duration(buf, sizeof(buf), 252000);
	CHECK_STR(buf, "4m12s");
	orch_format_duration(buf, sizeof(buf), 3 * 3600000 + 60000 * 5);
	CHECK_STR(buf, "3h05m");
}

TEST(lists_split_on_commas_and_trim)
{
	orch_strvec vec = {0};

	orch_strvec_split(&vec, " a, b ,,c\n d ", ",\n");
	CHECK_INT(vec.count, 4);
	CHECK_STR(vec.items[0], "a");
	CHECK_STR(vec.items[1], "b");
	CHECK_STR(vec.items[2], "c");
	CHECK_STR(vec.items[3], "d");
	CHECK(orch_strvec_contains(&vec, "c"));
	CHECK(!orch_strvec_contains(&vec, "e"));
	orch_strvec_free(&vec);
}

TEST(buffers_grow_and_detach)
{
	orch_buf buf = {0};
	char *text;

	for (int i = 0; i < 1000; i++)
		orch_buf_printf(&buf, "%d,", i);
	CHECK(buf.len > 3000);
	CHECK(!strncmp(buf.ptr, "0,1,2,", 6));
	text = orch_buf_detach(&buf);
	CHECK(buf.ptr == NULL && buf.len == 0);
	free(text);
}

TEST(a_map_finds_what_was_set_and_replaces_values)
{
	orch_strmap map = {0};
	size_t value = 0;

	CHECK_INT(orch_strmap_get(&value, &map, "a"), 0);
	orch_strmap_set(&map, "a", 1);
	orch_strmap_set(&map, "b", 2);
	orch_strmap_set(&map, "a", 3);
	CHECK_INT(map.count, 2);
	CHECK_INT(orch_strmap_get(&value, &map, "a"), 1);
	CHECK_INT(value, 3);
	CHECK_INT(orch_strmap_get(NULL, &map, "b"), 1);
	CHECK_INT(orch_strmap_get(NULL, &map, "c"), 0);
	CHECK_INT(orch_strmap_get(NULL, &map, ""), 0);
	orch_strmap_clear(&map);
	CHECK_INT(orch_strmap_get(NULL, &map, "a"), 0);
	CHECK_INT(map.count, 0);
}

TEST(a_map_keeps_its_own_copies_of_the_keys_as_it_grows)
{
	orch_strmap map = {0};
	size_t value = 0, wrong = 0;
	char key[16];

	for (size_t i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		orch_strmap_set(&map, key, i); /* key is overwritten next */
	}
	CHECK_INT(map.count, 10000);
	CHECK(map.cap >= 2 * map.count);
	for (size_t i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		if (!orch_strmap_get(&value, &map, key) || value != i)
			wrong++;
	}
	CHECK_INT(wrong, 0);
	CHECK_INT(orch_strmap_get(NULL, &map, "k10000"), 0);
	orch_strmap_clear(&map);
}

TEST(fnv1a_matches_its_published_values)
{
	CHECK_INT(orch_hash_fnv1a("", 0), 2166136261u);
	CHECK_INT(orch_hash_fnv1a("a", 1), 0xe40c292cu);
	CHECK_INT(orch_hash_fnv1a("foobar", 6), 0xbf9cf968u);
}

static const unit_test tests[] = {
    T(ids_follow_the_ref_safe_rules),
    T(durations_parse_with_their_suffixes),
    T(durations_format_like_the_log_messages),
    T(lists_split_on_commas_and_trim),
    T(buffers_grow_and_detach),
    T(a_map_finds_what_was_set_and_replaces_values),
    T(a_map_keeps_its_own_copies_of_the_keys_as_it_grows),
    T(fnv1a_matches_its_published_values),
};

UNIT_MAIN(tests)
