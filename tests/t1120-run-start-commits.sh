#!/bin/sh
# A task's start commit: its dependencies' results merged as git merges them,
# also where their histories cross (several merge bases).
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup' '
	test_create_repo repo &&
	cd repo &&
	printf "l%s\n" 1 2 3 4 5 6 7 8 >f.txt &&
	git add f.txt && git commit -q -m lines &&
	cat >cross.ini <<-\PLAN
	[plan]
	name = cross

	[task "a"]
	run = sed -i 1s/.*/A/ f.txt

	[task "b"]
	run = sed -i 8s/.*/B/ f.txt

	[task "c"]
	run = sed -i 3s/.*/C/ f.txt && echo c >c.txt
	depends = a, b

	[task "d"]
	run = sed -i 5s/.*/D/ f.txt && echo d >d.txt
	depends = b, a

	[task "k"]
	run = sed -i 3s/.*/K/ f.txt
	depends = b, a

	[task "e"]
	run = true
	depends = c, d

	[task "z"]
	run = true
	depends = c, k
	PLAN
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'the results of the cross have two merge bases' '
	git orchestrate plan cross.ini >/dev/null &&
	test_expect_code 1 git orchestrate run cross >out &&
	git merge-base --all orchestrate/cross/c orchestrate/cross/d >bases &&
	test $(wc -l <bases) = 2
'

test_expect_success 'a start commit across them has the tree git merge makes' '
	git merge-tree --write-tree orchestrate/cross/c orchestrate/cross/d >merged &&
	test "$(git rev-parse orchestrate/cross/e^^{tree})" = "$(head -1 merged)" &&
	test "$(git rev-parse orchestrate/cross/e^^1)" = "$(git rev-parse orchestrate/cross/c)" &&
	test "$(git rev-parse orchestrate/cross/e^^2)" = "$(git rev-parse orchestrate/cross/d)" &&
	git show orchestrate/cross/e:f.txt >f &&
	printf "%s\n" A l2 C l4 D l6 l7 B >expect &&
	test_cmp expect f &&
	git cat-file -e orchestrate/cross/e:c.txt &&
	git cat-file -e orchestrate/cross/e:d.txt
'

test_expect_success 'results across them that git cannot merge make the task a conflict' '
	test_expect_code 1 git merge-tree --write-tree orchestrate/cross/c orchestrate/cross/k >merged &&
	git orchestrate status cross >st &&
	test_grep "^z *conflict" st &&
	test_grep "f.txt" st
'

test_done
