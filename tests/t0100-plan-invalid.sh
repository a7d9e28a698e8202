#!/bin/sh
# Bad plans are refused with exit 2, a message naming the place at fault,
# and no change to any orchestrate ref.
. "$(dirname "$0")/test-lib.sh"

# a stored plan, so "unchanged" means something
test_expect_success 'setup' '
	test_create_repo repo &&
	cd repo &&
	printf "[task \"a\"]\nrun = true\n" >good.ini &&
	git orchestrate plan good.ini >/dev/null
'
cd repo || test_bail_out "setup left no repository"

# expect_invalid FILE PATTERN [plan args...]: exit 2, message matches, refs unchanged
expect_invalid () {
	file=$1 pattern=$2
	shift 2
	orch_refs >refs.before &&
	test_expect_code 2 git orchestrate plan "$file" "$@" 2>err &&
	test_grep -e "$pattern" err &&
	orch_refs >refs.after &&
	test_cmp refs.before refs.after
}

test_expect_success 'malformed line names file and line' '
	printf "[task \"a\"]\nrun = true\nthis is not ini\n" >bad.ini &&
	expect_invalid bad.ini "bad.ini:3"
'

test_expect_success 'unknown key names the key, task and line' '
	printf "[task \"a\"]\nrun = true\ncolour = red\n" >bad.ini &&
	expect_invalid bad.ini "bad.ini:3:.*colour"
'

test_expect_success 'unknown section is refused' '
	printf "[tsak \"a\"]\nrun = true\n" >bad.ini &&
	expect_invalid bad.ini "bad.ini:1"
'

test_expect_success 'duplicate task ids name both lines' '
	printf "[task \"a\"]\nrun = true\n[task \"a\"]\nrun = false\n" >bad.ini &&
	expect_invalid bad.ini "bad.ini:3.*a" &&
	test_grep "1" err
'

test_expect_success 'unknown dependency names both tasks' '
	printf "[task \"auth-ui\"]\nrun = true\ndepends = auth-apii\n" >bad.ini &&
	expect_invalid bad.ini "auth-ui.*auth-apii"
'

test_expect_success 'a cycle is printed with its members' '
	printf "[task \"a\"]\nrun = true\ndepends = c\n[task \"b\"]\nrun = true\ndepends = a\n[task \"c\"]\nrun = true\ndepends = b\n" >bad.ini &&
	expect_invalid bad.ini "cycle" &&
	test_grep "a" err && test_grep "b" err && test_grep "c" err &&
	test_grep -e "->" err
'

test_expect_success 'a task depending on itself is refused' '
	printf "[task \"a\"]\nrun = true\ndepends = a\n" >bad.ini &&
	expect_invalid bad.ini "a"
'

test_expect_success 'invalid characters in a task id are refused' '
	printf "[task \"a b\"]\nrun = true\n" >bad.ini &&
	expect_invalid bad.ini "bad.ini:1.*a b"
'

test_expect_success 'a task id with .. or ending in .lock is refused' '
	printf "[task \"x..y\"]\nrun = true\n" >bad.ini &&
	expect_invalid bad.ini "x\.\.y" &&
	printf "[task \"x.lock\"]\nrun = true\n" >bad.ini &&
	expect_invalid bad.ini "x\.lock"
'

test_expect_success 'a task id with shell syntax is refused, and nothing runs' '
	printf "[task \"\$(touch pwned)\"]\nrun = true\n" >bad.ini &&
	expect_invalid bad.ini "bad.ini:1" &&
	test_path_is_missing pwned
'

test_expect_success 'an invalid plan name from --name is refused' '
	expect_invalid good.ini "refs/x\|invalid plan name" --name "refs/x"
'

test_expect_success 'an invalid plan name in the file is refused' '
	printf "[plan]\nname = -bad\n[task \"a\"]\nrun = true\n" >bad.ini &&
	expect_invalid bad.ini "bad.ini:2.*-bad"
'

test_expect_success 'a line longer than the reader accepts is an error, not cut' '
	long=$(printf "%0300d" 0) &&
	printf "[task \"a\"]\nrun = echo %s\n" "$long" >bad.ini &&
	expect_invalid bad.ini "bad.ini:2.*long"
'

test_expect_success 'a bad duration names the line' '
	printf "[task \"a\"]\nrun = true\nduration = soon\n" >bad.ini &&
	expect_invalid bad.ini "bad.ini:3"
'

test_expect_success 'a bad priority names the line' '
	printf "[task \"a\"]\nrun = true\npriority = urgent\n" >bad.ini &&
	expect_invalid bad.ini "bad.ini:3.*urgent"
'

test_expect_success 'a task with nothing to run is refused' '
	printf "[task \"a\"]\npriority = high\n" >bad.ini &&
	expect_invalid bad.ini "a"
'

test_expect_success 'an unknown capability names the task and capability' '
	printf "[task \"a\"]\nrun = true\nneeds = gpu\n" >bad.ini &&
	expect_invalid bad.ini "bad.ini:1.*a.*gpu"
'

test_expect_success 'a missing plan file is refused' '
	expect_invalid nosuch.ini "nosuch.ini"
'

test_expect_success 'a missing prompt-file names the line' '
	printf "[task \"a\"]\nprompt-file = nope.md\nrun = true\n" >bad.ini &&
	expect_invalid bad.ini "bad.ini:2.*nope.md"
'

test_expect_success 'malformed worker configuration names file and line' '
	printf "[worker \"w\"]\nhost = local\nslots = many\n" >bad-workers.ini &&
	orch_refs >refs.before &&
	test_expect_code 2 git orchestrate --config bad-workers.ini plan good.ini 2>err &&
	test_grep "bad-workers.ini:3" err &&
	orch_refs >refs.after && test_cmp refs.before refs.after
'

test_expect_success 'host key checking cannot be turned off' '
	printf "[worker \"w\"]\nhost = example.com\nhost-key-check = off\n" >bad-workers.ini &&
	test_expect_code 2 git orchestrate --config bad-workers.ini plan good.ini 2>err &&
	test_grep "bad-workers.ini:3" err
'

test_expect_success 'bad usage exits 2' '
	test_expect_code 2 git orchestrate plan &&
	test_expect_code 2 git orchestrate plan good.ini --bogus &&
	test_expect_code 2 git orchestrate no-such-command
'

test_done
