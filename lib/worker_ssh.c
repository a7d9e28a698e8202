/*
 * The SSH worker: task attempts on a machine reached over SSH that has
 * nothing installed but sh and git (>= 2.20).
 *
 * One thread per worker owns the libssh2 session (kept open, keepalive)
 * and drives every exec channel of it without blocking; the scheduler's
 * calls only queue requests and read results under a mutex.
 *
 * Layout on the worker, under `workdir`/<project key>/:
 *   repo.git/          a bare repository; refs/orchestrate/have/<oid> keep
 *                      the commits it received or made
 *   slots/<n>/         worktrees, re-used by the next task (a checkout of
 *                      the new start commit only touches what differs)
 *   slots/<n>.busy/    claimed by a running task (its script's pid), or by
 *                      the slot shell whose last attempt ended well there,
 *                      or that made it ready for its next attempt (a shell
 *                      keeps up to two slots: see spare in slot_script)
 *   run/spare.<pid>    the slot a shell made ready, and for which commit
 *   run/tick.<pid>     while a command of the shell runs, its pid (the
 *                      shell's clock ticks then)
 *   run/<pid>.context, run/<pid>.share   the context and the share file of
 *                      the shell's attempt (rewritten by each one)
 *   run/<plan>+<task>.<attempt>.sh   the pid of the attempt's script and,
 *                      while its command runs, the command's process group
 *                      (for cancel and reap); emptied when the script ends
 *
 * Every remote command is one of the fixed scripts below, run as
 * `sh -c 'SCRIPT' sh WORD...` with each word quoted by orch_shell_quote.
 * Attempts run in a long-lived shell per slot (slot_script: one channel
 * and one sh for many attempts), which reads each attempt's words as one
 * line `set -- WORD...` on its stdin (orch_shell_quote_line); the task's
 * command is one of these words and runs as `sh -c "$cmd"` in a session of
 * its own (setsid).
 *
 * Objects travel over the session (no `remote`): a pack of the start commit
 * without what the worker has (git_packbuilder, hiding known commits) into
 * `git index-pack`; the result comes back from `git pack-objects` into the
 * local object database. The result of a command that made no commit of
 * its own is not committed there: its tree comes back (nothing when it
 * changed nothing) and its commit is made here. With `remote` set, the
 * start commit is pushed there (libgit2), the worker fetches it and pushes its
 * result, which is fetched back (libgit2).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <git2/sys/odb_backend.h>

#include "error.h"
#include "shared.h"
#include "signature.h"
#include "shell_quote.h"
#include "ssh.h"
#include "worker.h"

#define CONNECT_TIMEOUT_MS 10000
#define RECONNECT_TRIES 3
/* The longest wait between two tries to connect. */
#define RECONNECT_MAX_MS 30000
#define KILL_GRACE_S 5

#define STRINGIFY(x) #x
#define XSTRINGIFY(x) STRINGIFY(x)
/*
 * `shf FILE`: what the attempt shared, "F size" and, when it is not over
 * ORCH_SHARED_MAX, that many bytes (nothing when the file is missing).
 */
#define SHARE_OUT_SH                                                           \
	"shf() { [ -f \"$1\" ] || return 0; set -- \"$1\" $(wc -c "            \
	"<\"$1\"); echo \"F $2\"; [ \"$2\" -le " XSTRINGIFY(                   \
	    ORCH_SHARED_MAX) " ] && cat \"$1\"; return 0; }\n"

/* Checks the worker and prepares its repository; prints tagged lines. */
static const char hello_script[] =
    "w=$1\n"
    "case $w in \"~\") w=$HOME ;; \"~/\"*) w=$HOME/${w#\"~/\"} ;; esac\n"
    "top=$w/$2\n"
    "v=$(git --version 2>/dev/null) || { echo 'E git is not installed (or not "
    "on PATH)'; exit 0; }\n"
    "echo \"G $v\"\n"
    "echo \"H $(readlink /bin/sh 2>/dev/null || echo sh)\"\n"
    "command -v setsid >/dev/null 2>&1 || { echo 'E setsid (util-linux) is "
    "missing'; exit 0; }\n"
    "mkdir -p \"$top/run\" \"$top/slots\" || { echo \"E cannot create $top\"; "
    "exit 0; }\n"
    "[ -d \"$top/repo.git\" ] || git init -q --bare \"$top/repo.git\" >&2 ||"
    " { echo \"E cannot create $top/repo.git\"; exit 0; }\n"
    "echo \"T $top\"\n"
    "df -Pk \"$top\" 2>/dev/null | while read -r a b c d e; do"
    " case $d in [0-9]*) echo \"D $d\" ;; esac; done\n"
    "git -C \"$top/repo.git\" for-each-ref --format='K %(objectname)' "
    "refs/orchestrate/have\n";

/* Receives a pack of objects the worker lacks; keeps the start commit. */
static const char receive_script[] =
    "cd \"$1/repo.git\" && git index-pack --stdin --fix-thin >/dev/null &&"
    " git update-ref \"refs/orchestrate/have/$2\" \"$2\"\n";

/*
 * The shell of a slot: one per slot of a session, started once, runs one
 * attempt after another as its stdin asks (the loop at the end), each in
 * a subshell: the function `task`. Words of a request: top id attempt
 * base cmd msg has_prompt plan task worker url branch name email env_file
 * setup setup_hash token has_conflicts slot_hint (the slot of the shell's
 * last attempt, or ""), then the conflicting paths of a
 * re-run on conflict, the context, the prompt and a word "NAME=VALUE" per
 * variable `env` names (see request_words).
 * ORCHESTRATE_CONTEXT_FILE and ORCHESTRATE_SHARE_FILE are the shell's
 * run/<pid>.context and .share, written over by each attempt (a new file
 * is not made each time); once the command ended a share file that is not
 * empty is renamed to run/<id>.<attempt>.shared, which adopt_script reads
 * too.
 * Stdout: "S slot", "." (watchdog), "F size" and the shared bytes (see
 * SHARE_OUT_SH), "X status", then "R oid" and, without
 * a url, "P" and the result pack; or, without a url, "T tree", "P" and the
 * pack of that tree's new objects (the orchestrator makes the commit), or
 * "N" when the command
 * changed nothing; or "U status" when the slot's setup failed. Before "X": "C
 * u0 s0 u1 s1 kb", what the command used (see below). Task output goes to
 * stderr.
 *
 * Resource use, without GNU time (not everywhere): CPU time is the
 * difference of the shell's `times` (its waited-for children: the command
 * and what it waited for) before and after it; peak RSS is the largest
 * VmHWM among the processes of the command's group, sampled each second
 * from /proc by the watchdog, the first time at the slot shell's next tick
 * (within a second; a command that ends sooner reads 0, unknown, as one
 * without /proc does; processes that live less than a second may be
 * missed).
 *
 * The setup (when not empty) runs in the slot before the command unless
 * slots/<n>.setup holds its hash already; with a setup, ignored files
 * survive the checkout (what it installed). A slot whose setup failed is
 * left claimed, marked with this run's token: no script of the same run
 * takes it again; another run's does (and runs the setup again).
 */
static const char slot_script[] = ORCH_ENV_FILE_SH SHARE_OUT_SH
    "task() {\n"
    "top=$1 id=$2 att=$3 base=$4 cmd=$5 msg=$6 hp=$7 url=${11} br=${12}\n"
    "su=${16} suh=${17} tok=${18} x=x; [ -n \"$su\" ] && x=\n"
    "plan=$8 tn=$9 wn=${10} an=${13} ae=${14} ef=${15} hx=${19} hint=${20}"
    " xl=${21} ctx=${22} pr=${23}\n"
    "shift 23\n"
    /* this subshell's pid ($$ is the slot shell's) */
    "{ read -r me _ </proc/self/stat; } 2>/dev/null ||"
    " me=$(exec sh -c 'echo $PPID')\n"
    "repo=$top/repo.git run=$top/run\n"
    "lock() { i=0; until mkdir \"$top/lock\" 2>/dev/null; do i=$((i + 1));"
    " [ $i -gt 1200 ] && rm -rf \"$top/lock\"; sleep 0.05 2>/dev/null || sleep "
    "1; done; }\n"
    "unlock() { rmdir \"$top/lock\"; }\n"
    /* rm -f of these files, without a process when none is there */
    "rmf() { for f; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then rm -f \"$@\";"
    " return; fi; done; }\n"
    /* a free slot is claimed by mkdir; a slot whose script died is taken
     * back under the lock only (two scripts reclaiming one slot at once
     * would each remove the other's fresh claim); the pid file is written
     * by one write: empty (being written, or its writer killed before),
     * it reads as alive, as a missing one does. Busy slots are passed
     * with shell builtins only. */
    "stale() { [ ! -e \"$1/kept\" ] || return 1; f= p=;"
    " { read -r f <\"$1/failed\"; read -r p <\"$1/pid\"; } 2>/dev/null;"
    " [ \"$f\" != \"$tok\" ] && [ -n \"$p\" ] && ! kill -0 \"$p\" "
    "2>/dev/null; }\n"
    /* claims the first free slot but slot $1: its number in c */
    "claim() { c=0; while :; do w=$top/slots/$c; if [ $c != \"$1\" ]; then"
    " [ -d \"$w.busy\" ] || { mkdir \"$w.busy\" 2>/dev/null && return; };"
    " if stale \"$w.busy\"; then lock; stale \"$w.busy\" && rm -rf"
    " \"$w.busy\"; unlock; continue; fi; fi; c=$((c + 1)); done; }\n"
    /* a new worktree $1 at the start commit */
    "mkwt() { cd \"$top\"; lock; rm -rf \"$1\" \"$1.setup\"; git -C \"$repo\""
    " worktree prune; git -C \"$repo\" worktree add -q --detach \"$1\""
    " \"$base\" >&2; r=$?; unlock; [ $r = 0 ]; }\n"
    /* is slot $1 still claimed by this shell (its pid, $$, in it) and not
     * kept for a failed attempt? */
    "ours() { p=; { read -r p <\"$top/slots/$1.busy/pid\"; } 2>/dev/null;"
    " [ \"$p\" = $$ ] && [ ! -e \"$top/slots/$1.busy/kept\" ] &&"
    " [ ! -e \"$top/slots/$1.busy/failed\" ]; }\n"
    /* the slot: the shell's spare when it was made ready for this start
     * commit while the last attempt ran (spare, below; the slot of the
     * last attempt is then the one made ready meanwhile: tg), else the
     * slot where the shell's last attempt ended well (`hint`), else a
     * free one */
    "n= own= tg= sp= sb=; { read -r sp sb <\"$run/spare.$$\"; } 2>/dev/null\n"
    "case $sp in '' | *[!0-9]*) sp= ;; esac; case $hint in '' | *[!0-9]*)"
    " hint= ;; esac\n"
    "if [ -n \"$sp\" ] && [ \"$sb\" = \"$base$x\" ] && ours $sp; then n=$sp"
    " own=1; : >\"$run/spare.$$\"; [ -n \"$hint\" ] && [ $hint != $sp ] && "
    "ours $hint && tg=$hint\n"
    "else [ -n \"$hint\" ] && ours $hint && n=$hint own=1; [ -n \"$sp\" ] &&"
    " [ \"$sp\" != \"$n\" ] && ours $sp && tg=$sp; fi\n"
    "[ -n \"$n\" ] || { claim -; n=$c; }\n"
    /* slot tg (else a free one, claimed) made ready for this start
     * commit, and named in run/spare.<shell> */
    "spare() { [ -n \"$tg\" ] || { claim $n && echo $$"
    " >\"$top/slots/$c.busy/pid\" && tg=$c; } || return 1\n"
    "  w=$top/slots/$tg rd=; { read -r rd <\"$w.busy/ready\"; } 2>/dev/null\n"
    "  if [ \"$rd\" != \"$base$x\" ]; then : >\"$w.busy/ready\"\n"
    "    if [ -e \"$w/.git\" ] && cd \"$w\" &&"
    " git checkout -q -f --detach \"$base\" && git clean -q -ffd$x; then :;"
    " else mkwt \"$w\" || return 1; fi\n"
    "    printf '%s\\n' \"$base$x\" >\"$w.busy/ready\" || return 1\n"
    "  fi\n"
    "  printf '%s %s\\n' \"$tg\" \"$base$x\" >\"$run/spare.$$\"; }\n"
    "s=$top/slots/$n\n"
    "echo $me >\"$s.busy/pid\"\n"
    "echo \"S $n\"\n"
    /* what a later orchestrator finds of this attempt (see adopt_script) */
    "d=$run/$id.$att\n"
    /* files of the attempt that nobody else reads: the shell's own,
     * written over by each attempt (a new file is not made each time) */
    "q=$run/$$\n"
    "xf=$d.conflicts cf=$q.context sf=$q.share pf=$d.prompt mark=$d.cancel\n"
    /* the attempt's files go with those of the attempts after it (gone,
     * in the shell's loop): .sh is emptied at once, so that nobody waits
     * for its pid; the trap waits for the slot being made ready meanwhile
     * (spare) */
    "echo $me >\"$d.sh\"; sj=; trap ': >\"$d.sh\";"
    " [ -z \"$sj\" ] || wait $sj' EXIT\n"
    "o=$run/$id.$((att - 1)); rmf \"$o.done\" \"$o.orphan\" \"$o.shared\"\n"
    /* a start commit fetched before has its loose ref (refs written by
     * git appear whole); else ask git */
    "if [ -n \"$url\" ] && [ ! -f \"$repo/refs/orchestrate/have/$base\" ] &&"
    " ! git -C \"$repo\" cat-file -e \"$base^{commit}\" 2>/dev/null; then\n"
    "  lock; git -C \"$repo\" fetch -q --no-tags \"$url\""
    " \"+refs/orchestrate-start/$base:refs/orchestrate/have/$base\" >&2; r=$?; "
    "unlock\n"
    "  [ $r = 0 ] || { echo 'start commit not found on the remote' >&2; exit "
    "124; }\n"
    "fi\n"
    /* a worktree the shell made ready for this start commit (spare, in
     * its last attempt) needs no checkout; the mark goes before anything
     * changes it */
    "rd=; if [ -n \"$own\" ] && { read -r rd <\"$s.busy/ready\"; } 2>/dev/null;"
    " then : >\"$s.busy/ready\"; fi\n"
    "if [ -n \"$rd\" ] && [ \"$rd\" = \"$base$x\" ] && cd \"$s\"; then :\n"
    "elif [ -e \"$s/.git\" ] && cd \"$s\" && git checkout -q -f --detach "
    "\"$base\" >&2 &&"
    " git clean -q -ffd$x >&2; then :; else\n"
    "  mkwt \"$s\" && cd \"$s\" || { echo 'cannot create the worktree' >&2;"
    " exit 124; }\n"
    "fi\n"
    /* the index as the start commit left it, held open on fd 4: git
     * writes a changed index as a new file, so the path names another
     * file once anything was staged (see the check after the command) */
    "ix=; { read -r _ g <.git; } 2>/dev/null && [ -f \"$g/index\" ] &&"
    " command exec 4<\"$g/index\" && ix=$g/index\n"
    /* the worker's env-file, then the variables of the request (they
     * win): each a word "NAME=VALUE", never an argument of a command */
    "orch_env_file \"$ef\" '' || exit 124\n"
    "for v; do case ${v%%=*} in '' | [0-9]* | *[!A-Za-z0-9_]*) exit 124 ;;"
    " esac; export \"$v\"; done\n"
    "set -- ; unset v\n"
    /* a re-run on conflict: the list of paths, to the file
     * ORCHESTRATE_CONFLICT_FILES names */
    "if [ \"$hx\" = 1 ]; then printf '%s' \"$xl\" >\"$xf\" || exit 124\n"
    "  export ORCHESTRATE_CONFLICT_FILES=\"$xf\"\n"
    "else unset ORCHESTRATE_CONFLICT_FILES; fi\n"
    "printf '%s' \"$ctx\" >\"$cf\" && : >\"$sf\" && rmf \"$d.shared\" ||"
    " exit 124\n"
    "if [ -n \"$su\" ] && [ \"$(cat \"$s.setup\" 2>/dev/null)\" != \"$suh\" ]; "
    "then\n"
    "  rm -f \"$s.setup\"; sh -c \"$su\" </dev/null 4<&- >&2 || { r=$?;"
    " echo \"$tok\" >\"$s.busy/failed\"; echo \"U $r\"; exit 0; }\n"
    "  echo \"$suh\" >\"$s.setup\"\n"
    "fi\n"
    "if [ \"$hp\" = 1 ]; then printf '%s' \"$pr\" >\"$pf\" || exit 124; export "
    "ORCHESTRATE_PROMPT_FILE=\"$pf\";"
    " else unset ORCHESTRATE_PROMPT_FILE; fi\n"
    "unset xl ctx pr\n"
    "export ORCHESTRATE_PLAN=\"$plan\" ORCHESTRATE_TASK=\"$tn\" "
    "ORCHESTRATE_ATTEMPT=\"$att\""
    " ORCHESTRATE_WORKER=\"$wn\" ORCHESTRATE_BASE=\"$base\""
    " ORCHESTRATE_CONTEXT_FILE=\"$cf\" ORCHESTRATE_SHARE_FILE=\"$sf\"\n"
    "hwm() { for f in /proc/[0-9]*/stat; do read -r l <\"$f\" || continue;"
    " set -- ${l##*) }; [ \"$3\" = \"$pg\" ] || continue; while read -r k v u;"
    " do [ \"$k\" = VmHWM: ] && [ \"$v\" -gt \"$m\" ] && m=$v; done"
    " <\"${f%stat}status\"; done 2>/dev/null; echo $m >\"$d.rss\"; }\n"
    "times >\"$q.t0\"\n"
    "setsid sh -c \"$cmd\" </dev/null 3<&- 4<&- >&2 &\n"
    "pg=$!\n"
    /* from here on, a dropped connection does not kill the script: a
     * command that ended is still committed for adopt_script to find (the
     * command itself was started with SIGPIPE as the script got it) */
    "trap '' PIPE\n"
    "echo $me $pg >\"$d.sh\"; [ -z \"$fl\" ] || echo $pg >\"$fl\"\n"
    "[ -e \"$mark\" ] && kill -s TERM -- -$pg 2>/dev/null\n"
    /* if the connection dies, so does the task: nobody could collect it */
    /* the first sample after the shell's next tick (within a second; a
     * scan of /proc costs more than a short command): a tick read from
     * its clock (fd 3, see tick), not a sleep process each attempt */
    "( trap '' PIPE; m=0; while echo .; do if [ -n \"$fl\" ]; then read -r _"
    " <&3 || break; else sleep 1 </dev/null >/dev/null 2>&1; fi; hwm; done "
    "2>/dev/null;"
    " : >\"$d.orphan\"; kill -s TERM -- -$pg; sleep 5 </dev/null >/dev/null "
    "2>&1; kill -s KILL "
    "-- -$pg ) 2>/dev/null 4<&- &\n"
    "wd=$!\n"
    /* meanwhile another slot of the shell is made ready for this start
     * commit, where the next attempt will likely start (when the last one
     * started there too): its checkout is not in the next attempt's way.
     * The attempt waits for it when it ends (trap above). A slot that is
     * ready for it already (its last attempt changed nothing) is named
     * without a process. */
    "if [ \"$base\" = \"$pb\" ]; then sr=; [ -z \"$tg\" ] || { read -r sr"
    " <\"$top/slots/$tg.busy/ready\"; } 2>/dev/null\n"
    "  if [ \"$sr\" = \"$base$x\" ]; then printf '%s %s\\n' \"$tg\" \"$base$x\""
    " >\"$run/spare.$$\"\n"
    "  else spare </dev/null >/dev/null 2>&1 3<&- 4<&- & sj=$!; fi\n"
    "fi\n"
    "wait $pg; st=$?; [ -z \"$fl\" ] || : >\"$fl\"\n"
    "times >\"$q.t1\"\n"
    "kill $wd 2>/dev/null\n"
    "{ read -r _ _; read -r u0 s0; } <\"$q.t0\"; { read -r _ _; read -r u1 s1; "
    "} "
    "<\"$q.t1\"\n"
    "{ read -r m <\"$d.rss\"; } 2>/dev/null || m=0\n"
    "echo \"C $u0 $s0 $u1 $s1 $m\"\n"
    "kill -s KILL -- -$pg 2>/dev/null\n"
    /* an empty share file shares nothing: no .shared */
    "if [ -s \"$sf\" ]; then mv -f \"$sf\" \"$d.shared\" 2>/dev/null; fi\n"
    /* nothing to stop any more (kill_script) */
    "echo $me >\"$d.sh\"\n"
    "shf \"$d.shared\"\n"
    "echo \"X $st\"\n"
    /* cancelled, or stopped by the watchdog: nothing to collect */
    "[ -e \"$mark\" ] && exit $st\n"
    /* .done is written by one write (adopt_script waits while it is
     * empty) */
    "fin() { printf '%s\\n' \"$@\" >\"$d.done\"; }\n"
    "[ $st = 0 ] || { [ -e \"$d.orphan\" ] || fin \"X $st\"; exit $st; }\n"
    /* the result in two git processes: add, commit without its auto
     * maintenance (gca below); the commit is read from the worktree's
     * detached HEAD (git rev-parse if that fails), and the ref that keeps
     * it is written as a loose ref file by one write where refs are files
     * (else by git update-ref): git reads one being written as broken and
     * skips it, which only a gc that moment could do, and the commit is
     * too young for its prune */
    "headr() { r=; { read -r _ g <.git && read -r r <\"$g/HEAD\"; } "
    "2>/dev/null;"
    " case $r in '' | *[!0-9a-f]*) r=$(git rev-parse HEAD) ;; esac; }\n"
    /* nothing changed: HEAD is still the start commit, the index the
     * file the checkout wrote (fd 4 still open on it: nothing staged),
     * and git ls-files lists no file that differs from it, none it does
     * not track (ignored ones too, where a checkout would clean them)
     * and no empty directory: no commit here, the orchestrator makes the
     * empty result commit ("N"; one git process instead of add, commit
     * and pack-objects), and the worktree is the start commit's as a
     * checkout and clean leave it: ready for the next attempt from it */
    "xs=; [ -n \"$x\" ] || xs=--exclude-standard\n"
    "if [ -z \"$url\" ] && [ -n \"$ix\" ] && [ /dev/fd/4 -ef \"$ix\" ] && headr"
    " && [ \"$r\" = \"$base\" ] && git ls-files -m -d -o --directory $xs"
    " >\"$q.st\" 2>/dev/null 4<&- && [ ! -s \"$q.st\" ]; then\n"
    "  fin 'X 0' N; echo $$ >\"$s.busy/pid\"\n"
    "  printf '%s\\n' \"$base$x\" >\"$s.busy/ready\"; echo N; exit 0\n"
    "fi\n"
    "[ -z \"$ix\" ] || exec 4<&-\n"
    /* without a url, HEAD still the start commit (the command made no
     * commit of its own): the result goes back as its tree ("T", its new
     * objects against the start commit's tree), the orchestrator makes the
     * commit as it does for "N": git write-tree instead of git commit, and
     * no ref here; the slot's next checkout throws the staged changes
     * away. Else a commit ("R"), its ref, and the push to a url. */
    "if [ -z \"$url\" ] && headr && [ \"$r\" = \"$base\" ]; then\n"
    "  k=T nb=$base^{tree}; git add -A >&2 && r=$(git write-tree) &&"
    " case $r in '' | *[!0-9a-f]*) false ;; esac ||"
    " { echo 'cannot commit the result' >&2; fin 'X 0'; exit 0; }\n"
    "else\n"
    "  k=R nb=$base; git add -A >&2 && printf '%s' \"$msg\" |"
    " GIT_AUTHOR_NAME=$an GIT_AUTHOR_EMAIL=$ae GIT_COMMITTER_NAME=$an "
    "GIT_COMMITTER_EMAIL=$ae git -c maintenance.auto=0 -c gc.auto=0"
    " commit -q --no-verify --allow-empty --no-gpg-sign -F - >&2 &&"
    " headr && { [ ! -e \"$repo/reftable\" ] && [ -d "
    "\"$repo/refs/orchestrate/have\" ] &&"
    " printf '%s\\n' \"$r\" >\"$repo/refs/orchestrate/have/$r\" ||"
    " git update-ref \"refs/orchestrate/have/$r\" \"$r\"; } ||"
    " { echo 'cannot commit the result' >&2; fin 'X 0'; exit 0; }\n"
    "  if [ -n \"$url\" ]; then git push -q -f \"$url\" \"$r:$br\" >&2 ||"
    " { echo 'cannot push the result' >&2; fin 'X 0'; exit 0; }; fi\n"
    "fi\n"
    "fin 'X 0' \"$k $r\"\n"
    /* the slot stays this shell's for its next attempt (`hint`); .sh is
     * not needed once .done is there */
    "echo $$ >\"$s.busy/pid\"\n"
    /* git gc --auto (it goes to the background) only when the counts it
     * checks first are near its defaults: asking costs a process */
    "gca() { set -- \"$repo\"/objects/17/*; [ $# -gt 27 ] ||"
    " { set -- \"$repo\"/objects/pack/*.pack; [ $# -gt 50 ]; } || return 0;"
    " git -C \"$repo\" gc --auto --quiet </dev/null >/dev/null 2>&1; }\n"
    "gca\n"
    "echo \"$k $r\"\n"
    "[ -n \"$url\" ] && exit 0\n"
    "echo P\n"
    "printf '%s\\n^%s\\n' \"$r\" \"$nb\" | git -C \"$repo\" pack-objects -q "
    "--revs --stdout || exit 0\n"
    "}\n"
    /* one request a line: `set -- MARK WORD...`, the words quoted by
     * orch_shell_quote_line; each attempt in a subshell of its own that
     * reads nothing of the requests; MARK (random, per attempt) ends its
     * stderr, and its stdout with the exit status */
    /* the shell's clock: a FIFO on fd 3 (its name gone once open) into
     * which a process writes a line each second while the file of that
     * name holds the pid of a running command; it ends with the shell.
     * Without mkfifo, fl is empty and watchdogs sleep. */
    "tick() { tk=-; fl=$t/run/tick.$$; [ ! -e \"$fl\" ] || rm -f \"$fl\";"
    " if mkfifo \"$fl\" 2>/dev/null && exec 3<>\"$fl\" && rm -f \"$fl\" &&"
    " : >\"$fl\"; then ( trap '' PIPE; while sleep 1 && kill -0 $$; do"
    " [ -s \"$fl\" ] && echo; done ) </dev/null >&3 2>/dev/null & tk=$!;"
    " else exec 3<&-; fl=; fi; }\n"
    /* the files of the attempts that ended (run/<id>.<attempt>.*, listed
     * in g) go in one rm every 32 attempts and when the shell ends: an
     * rm per attempt was a twentieth of the CPU time of short tasks. A
     * shell that is killed leaves those of its last attempts (an
     * attempt's number is never used again, see task.c) */
    "gone() { [ $gn -ge $1 ] || return 0; ( set -f; IFS=$nl; set --;"
    " for p in $g; do set -- \"$@\" \"$p.sh\" \"$p.rss\" \"$p.prompt\""
    " \"$p.conflicts\"; done;"
    " exec rm -f -- \"$@\" >/dev/null 2>&1 ); g= gn=0; }\n"
    "nl='\n' tk= fl= g= gn=0\n"
    "while IFS= read -r l; do\n"
    "  eval \"$l\" || exit 1\n"
    "  k=$1; shift; t=$1 b=$4 x=x; [ -n \"${16}\" ] && x=\n"
    /* once a shell: what attempts left that nobody will read any more,
     * a week after they ended (their outcome recorded long since, or
     * given up: the lease of their task expired): .done, .orphan and
     * .shared, and the emptied .sh and .pid a killed shell left */
    "  [ -n \"$tk\" ] || find \"$t/run\" -maxdepth 1 -type f -mtime +7 \\("
    " -name '*.done' -o -name '*.orphan' -o -name '*.shared' -o \\( -empty"
    " \\( -name '*.sh' -o -name '*.pid' \\) \\) \\) -delete </dev/null"
    " >/dev/null 2>&1\n"
    "  [ -n \"$tk\" ] || tick\n"
    "  ( task \"$@\" ) </dev/null\n"
    "  st=$?; g=$g$nl$1/run/$2.$3 gn=$((gn + 1)); set --\n"
    "  printf '%s' \"$k\" >&2; printf '%s %s\\n' \"$k\" \"$st\"\n"
    /* the start commit of the last attempt (see spare) */
    "  pb=$b\n"
    "  gone 32\n"
    "done\n"
    "gone 1\n"
    /* the end of its input (the session closed or dropped): the slot it
     * kept is free again */
    "[ -n \"$t\" ] || exit 0\n"
    "rm -f \"$t/run/spare.$$\" \"$t/run/$$.t0\" \"$t/run/$$.t1\""
    " \"$t/run/$$.st\" \"$t/run/$$.context\" \"$t/run/$$.share\"; [ -z \"$fl\" "
    "] || { kill $tk; rm -f"
    " \"$fl\"; } 2>/dev/null\n"
    "for b in \"$t\"/slots/*.busy; do p=; { read -r p <\"$b/pid\"; } "
    "2>/dev/null;"
    " [ \"$p\" = $$ ] && rm -rf \"$b\"; done\n"
    "exit 0\n";

/*
 * Collects an attempt whose orchestrator died: words top id attempt base
 * url. Waits (at most a minute) while its task script still runs, then
 * answers as the task script would have ("F size" and what it shared,
 * "X status", "R oid" or "T tree", "P" and the pack); exits 3 without a
 * word when the attempt left nothing to collect
 * (it was stopped, or never ran its command).
 */
static const char adopt_script[] = SHARE_OUT_SH
    "d=$1/run/$2.$3 i=0\n"
    "while [ ! -s \"$d.done\" ] && { read -r p _ <\"$d.sh\"; } 2>/dev/null &&"
    " kill -0 \"$p\" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; "
    "i=$((i + 1)); done\n"
    "[ -s \"$d.done\" ] || exit 3\n"
    "shf \"$d.shared\"\n"
    "cat \"$d.done\" || exit 3\n"
    /* the result: a commit (R), or a tree (T) whose commit the
     * orchestrator makes */
    "r= b=$4; while read -r k v; do case $k in R) r=$v ;; T) r=$v"
    " b=$4^{tree} ;; esac; done <\"$d.done\"\n"
    "[ -n \"$r\" ] && [ -z \"$5\" ] || exit 0\n"
    "echo P\n"
    "printf '%s\\n^%s\\n' \"$r\" \"$b\" | git -C \"$1/repo.git\" pack-objects "
    "-q "
    "--revs --stdout || exit 0\n";

/*
 * Stops an attempt: words top id attempt grace. Marks it cancelled, TERM
 * to its process group, KILL after the grace; exit 0 once it is gone. The
 * group is the second word of the attempt's .sh while its command runs.
 */
static const char kill_script[] =
    "run=$1/run id=$2 g=$(($4 * 10)) pg=\n"
    ": >\"$run/$id.$3.cancel\"\n"
    "{ read -r _ pg <\"$run/$id.$3.sh\"; } 2>/dev/null\n"
    "case $pg in '' | *[!0-9]*) exit 0 ;; esac\n"
    "kill -s TERM -- -$pg 2>/dev/null || exit 0\n"
    "i=0; while [ $i -lt $g ] && kill -s 0 -- -$pg 2>/dev/null; do sleep 0.1; "
    "i=$((i + 1)); done\n"
    "kill -s KILL -- -$pg 2>/dev/null\n"
    "i=0; while [ $i -lt 50 ] && kill -s 0 -- -$pg 2>/dev/null; do sleep 0.1; "
    "i=$((i + 1)); done\n"
    "! kill -s 0 -- -$pg 2>/dev/null\n";

/*
 * Keeps the worktree of a failed attempt (finish with keep): its slot is
 * not claimed again. Words: top slot id; the mark names the attempt's
 * "<plan>+<task>" (list_kept_script). (A slot whose script is gone is
 * otherwise re-used by the next task.)
 */
static const char keep_script[] =
    "printf '%s\\n' \"$3\" >\"$1/slots/$2.busy/kept\"\n";

/*
 * Removes a slot kept for a failed attempt (`clean`): words top slot. A
 * slot no longer kept was removed already and may be another attempt's
 * now: it is left alone. The worktree goes under the lock the task script
 * takes to create one; the slot is freed (its .busy) only once it is gone.
 */
static const char remove_kept_script[] =
    "top=$1 s=$1/slots/$2\n"
    "[ -e \"$s.busy/kept\" ] || exit 0\n"
    "i=0; until mkdir \"$top/lock\" 2>/dev/null; do i=$((i + 1));"
    " [ $i -gt 1200 ] && rm -rf \"$top/lock\"; sleep 0.05 2>/dev/null || sleep "
    "1; done\n"
    "rm -rf \"$s\" && { [ ! -d \"$top/repo.git\" ] ||"
    " git -C \"$top/repo.git\" worktree prune; }; r=$?\n"
    "rmdir \"$top/lock\"\n"
    "[ $r = 0 ] && rm -rf \"$s.busy\"\n";

/*
 * Lists the slots kept for failed attempts of a plan: words workdir key
 * plan. Prints the path of each slot whose mark names "<plan>+<task>".
 */
static const char list_kept_script[] =
    "w=$1\n"
    "case $w in \"~\") w=$HOME ;; \"~/\"*) w=$HOME/${w#\"~/\"} ;; esac\n"
    "for k in \"$w/$2\"/slots/*.busy/kept; do\n"
    "  [ -f \"$k\" ] && IFS= read -r id <\"$k\" || continue\n"
    "  case $id in \"$3+\"*) b=${k%/kept}; printf '%s\\n' \"${b%.busy}\" ;; "
    "esac\n"
    "done\n";

enum job_phase {
	J_NEW = 0, /* waiting for the connection or the start commit */
	J_SEND,    /* objects on their way */
	J_RUN,     /* the task script runs */
	J_ORPHAN,  /* the connection dropped while it ran: stop what is left */
	J_ENDED,   /* result known */
	J_RELEASE  /* finish asked: freeing the slot */
};

struct slot_shell;

struct orch_job {
	struct orch_job *next;
	/* set at start, read-only afterwards */
	char *plan, *task, *id, *branch, *command, *message, *prompt;
	/* the end of its request: conflicts, context, prompt, env (quoted) */
	orch_buf input;
	char *setup; /* or NULL */
	char setup_hash[GIT_OID_HEXSZ + 1];
	char base_hex[GIT_OID_HEXSZ + 1];
	git_oid base;
	int attempt;
	int has_conflicts; /* a re-run on conflict: the list is on stdin */
	int reap_only;     /* a reap request, not an attempt */
	int adopting;      /* collects an attempt of a dead orchestrator */
	int adopt_missing; /* ... which left nothing to collect */
	/* the result's pack, to store on the scheduler's thread (set before
	 * `ended`, then the scheduler's) */
	orch_buf pack;
	int pack_pending;
	/* the result commit is made here: of result_tree (its new objects in
	 * the pack), or of the start commit's tree when that is zero */
	int commit_here;
	git_oid result_tree;
	/* under the worker's mutex */
	orch_buf output;
	orch_job_result result;
	orch_buf shared;          /* what the attempt shared (read_shared) */
	long long shared_too_big; /* its size, when over ORCH_SHARED_MAX */
	int ended;
	int cancel_requested;
	int finish_requested, keep;
	int freeable;
	/* the thread's */
	enum job_phase phase;
	orch_ssh_exec send, run, kill;
	int sending, running, killing, kill_done;
	struct slot_shell *shell; /* runs it (`run` then only holds output) */
	int slot;
	int lost_reason_set;
	char lost_reason[300];
};

typedef struct {
	git_oid *ids;
	size_t count, alloc;
} oid_set;

#define MARK_LEN 32

/*
 * A slot_script on a channel of its own: it runs the attempt `job` (NULL:
 * idle), whose output ends with `mark` on stderr and "MARK STATUS\n" on
 * stdout.
 */
typedef struct slot_shell {
	struct slot_shell *next;
	orch_ssh_exec ex;
	struct orch_job *job;
	char mark[MARK_LEN + 1];
	int slot;    /* where its last attempt ran (-1: none yet) */
	size_t scan; /* where the mark may start in job->run.out */
	int out_end, err_end;
	int served; /* attempts it ran to their end */
} slot_shell;

typedef struct {
	orch_worker parent;
	orch_ssh_target target;
	char *workdir;
	char *remote;
	char *env_file;  /* the configured env-file, or NULL */
	char *key;       /* project key: directory on the worker */
	char *repo_path; /* local repository, opened again by the thread */
	char *token;
	git_repository *repo; /* the scheduler's (start only) */
	char sig_name[128], sig_email[128];

	pthread_t thread;
	int thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int wake[2];
	int stop;
	struct orch_job *jobs;
	int initial_done, initial_error;
	char initial_msg[1024], initial_hint[512];

	/* the thread's */
	git_repository *trepo;
	orch_ssh *ssh;
	char *top; /* remote top directory, as the worker spells it */
	oid_set known;
	slot_shell *shells;
	int shell_deaths; /* slot shells that ended under an attempt, in a row
	                   */
	int failures;
	int64_t next_connect_ms;
} ssh_worker;

static void oid_set_add(oid_set *set, const git_oid *id)
{
	for (size_t i = 0; i < set->count; i++)
		if (git_oid_equal(&set->ids[i], id))
			return;
	if (set->count == set->alloc) {
		set->alloc = set->alloc ? set->alloc * 2 : 64;
		set->ids = orch_realloc(set->ids, set->alloc * sizeof(git_oid));
	}
	git_oid_cpy(&set->ids[set->count++], id);
}

static int oid_set_has(const oid_set *set, const git_oid *id)
{
	for (size_t i = 0; i < set->count; i++)
		if (git_oid_equal(&set->ids[i], id))
			return 1;
	return 0;
}

static void wake_thread(ssh_worker *sw)
{
	char c = 1;
	ssize_t n = write(sw->wake[1], &c, 1);
	(void)n;
}

/* `sh -c 'SCRIPT' sh WORD...` with every word quoted. */
static char *remote_command(const char *script, const char **words,
                            size_t nwords)
{
	orch_buf cmd = {0};

	orch_buf_puts(&cmd, "sh -c ");
	orch_shell_quote(&cmd, script, strlen(script));
	orch_buf_puts(&cmd, " sh");
	for (size_t i = 0; i < nwords; i++) {
		orch_buf_puts(&cmd, " ");
		orch_shell_quote(&cmd, words[i] ? words[i] : "",
		                 words[i] ? strlen(words[i]) : 0);
	}
	return orch_buf_detach(&cmd);
}

static void job_free(struct orch_job *job)
{
	if (!job)
		return;
	free(job->plan);
	free(job->task);
	free(job->id);
	free(job->branch);
	free(job->command);
	free(job->setup);
	free(job->message);
	free(job->prompt);
	if (job->input.ptr) {
		/* it holds secrets: do not leave them in freed memory */
		volatile char *p = job->input.ptr;
		for (size_t i = 0; i < job->input.len; i++)
			p[i] = '\0';
	}
	orch_buf_free(&job->input);
	orch_buf_free(&job->output);
	orch_buf_free(&job->shared);
	orch_buf_free(&job->pack);
	orch_ssh_exec_clear(&job->send);
	orch_ssh_exec_clear(&job->run);
	orch_ssh_exec_clear(&job->kill);
	free(job);
}

/* Record how the job ended (thread side). */
static void job_end(ssh_worker *sw, struct orch_job *job,
                    const orch_job_result *res)
{
	pthread_mutex_lock(&sw->mu);
	job->result = *res;
	job->ended = 1;
	pthread_cond_broadcast(&sw->cond);
	pthread_mutex_unlock(&sw->mu);
	job->phase = J_ENDED;
}

/*
 * `msg` without a leading "worker 'NAME': " for this worker: a connection
 * error already names the worker, and a message built on it names it once.
 */
static const char *without_name(const ssh_worker *sw, const char *msg)
{
	size_t len = strlen(sw->parent.name);

	if (!strncmp(msg, "worker '", 8) &&
	    !strncmp(msg + 8, sw->parent.name, len) &&
	    !strncmp(msg + 8 + len, "': ", 3))
		return msg + 8 + len + 3;
	return msg;
}

static void job_lost(ssh_worker *sw, struct orch_job *job, const char *why)
{
	orch_job_result res = {0};

	res.phase = ORCH_JOB_LOST;
	res.exit_status = -1;
	snprintf(res.error, sizeof(res.error), "worker '%s': %s",
	         sw->parent.name, without_name(sw, why));
	job_end(sw, job, &res);
}

static void job_failed(ssh_worker *sw, struct orch_job *job, int status,
                       const char *why)
{
	orch_job_result res = {0};

	res.phase = ORCH_JOB_EXITED;
	res.exit_status = status;
	snprintf(res.error, sizeof(res.error), "%s", why);
	job_end(sw, job, &res);
}

static void shell_free(slot_shell *sh)
{
	orch_ssh_exec_clear(&sh->ex);
	free(sh);
}

/* Drop every channel (their session is going away). */
static void drop_channels(ssh_worker *sw)
{
	while (sw->shells) {
		slot_shell *sh = sw->shells;
		sw->shells = sh->next;
		if (sh->job)
			sh->job->shell = NULL;
		shell_free(sh);
	}
	for (struct orch_job *job = sw->jobs; job; job = job->next) {
		if (job->sending) {
			orch_ssh_exec_clear(&job->send);
			job->sending = 0;
			if (job->phase == J_SEND)
				job->phase = J_NEW;
		}
		if (job->running) {
			orch_ssh_exec_clear(&job->run);
			job->running = 0;
			job->kill_done = 0;
			job->phase = J_ORPHAN;
		}
		if (job->killing) {
			orch_ssh_exec_clear(&job->kill);
			job->killing = 0;
		}
	}
}

static void disconnect(ssh_worker *sw)
{
	drop_channels(sw);
	orch_ssh_free(sw->ssh);
	sw->ssh = NULL;
}

/* Parse the hello script's answer. */
static int parse_hello(ssh_worker *sw, const char *out)
{
	const char *line = out;
	int error = 0;

	sw->known.count = 0;
	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char *text = orch_strndup(line, len);
		git_oid id;

		if (text[0] == 'E' && !error) {
			error = orch_error_set("worker '%s': %s",
			                       sw->parent.name, text + 2);
			error = ORCH_EINVALID;
		} else if (text[0] == 'G') {
			int major = 0, minor = 0;
			if (sscanf(text, "G git version %d.%d", &major,
			           &minor) < 2 ||
			    major < 2 || (major == 2 && minor < 20)) {
				error =
				    orch_error_set("worker '%s': %s is too old "
				                   "(git >= 2.20 needed)",
				                   sw->parent.name, text + 2);
				error = ORCH_EINVALID;
			}
		} else if (text[0] == 'T') {
			free(sw->top);
			sw->top = orch_strdup(text + 2);
		} else if (text[0] == 'K' &&
		           git_oid_fromstr(&id, text + 2) == 0) {
			oid_set_add(&sw->known, &id);
		}
		free(text);
		line = end ? end + 1 : NULL;
	}
	if (!error && !sw->top)
		error = orch_error_set(
		    "worker '%s': unexpected answer from the worker: %s",
		    sw->parent.name, out);
	return error;
}

/* Connect and say hello (thread side, blocking). */
static int connect_worker(ssh_worker *sw)
{
	orch_ssh_exec ex;
	const char *words[2];
	char *cmd;
	int error;

	if ((error = orch_ssh_connect(&sw->ssh, &sw->target, sw->parent.name,
	                              CONNECT_TIMEOUT_MS)) < 0)
		return error;
	words[0] = sw->workdir;
	words[1] = sw->key;
	cmd = remote_command(hello_script, words, 2);
	orch_ssh_exec_init(&ex, cmd, NULL, 0);
	free(cmd);
	error = orch_ssh_exec_run(sw->ssh, &ex, 30000);
	if (error == 0)
		error = parse_hello(sw, ex.out.ptr ? ex.out.ptr : "");
	if (error == 0 && ex.exit_status != 0)
		error = orch_error_set(
		    "worker '%s': setting up '%s' failed: %s", sw->parent.name,
		    sw->workdir, ex.err.ptr ? ex.err.ptr : "");
	orch_ssh_exec_clear(&ex);
	if (error < 0) {
		orch_ssh_free(sw->ssh);
		sw->ssh = NULL;
	}
	return error;
}

static void set_down(ssh_worker *sw, int down, const char *reason)
{
	pthread_mutex_lock(&sw->mu);
	sw->parent.down = down;
	snprintf(sw->parent.down_reason, sizeof(sw->parent.down_reason), "%s",
	         down ? without_name(sw, reason) : "");
	pthread_mutex_unlock(&sw->mu);
}

static void start_exec(ssh_worker *sw, orch_ssh_exec *ex, const char *script,
                       const char **words, size_t nwords, const void *input,
                       size_t len)
{
	char *cmd = remote_command(script, words, nwords);
	(void)sw;
	orch_ssh_exec_init(ex, cmd, input, len);
	free(cmd);
}

static void start_kill(ssh_worker *sw, struct orch_job *job, int grace)
{
	char attempt[16], g[16];
	const char *words[4];

	snprintf(attempt, sizeof(attempt), "%d", job->attempt);
	snprintf(g, sizeof(g), "%d", grace);
	words[0] = sw->top;
	words[1] = job->id;
	words[2] = attempt;
	words[3] = g;
	start_exec(sw, &job->kill, kill_script, words, 4, NULL, 0);
	job->killing = 1;
}

static int build_pack(git_buf *out, ssh_worker *sw, const git_oid *base)
{
	git_revwalk *walk = NULL;
	git_packbuilder *pb = NULL;
	git_odb *odb = NULL;
	int error;

	if ((error = git_repository_odb(&odb, sw->trepo)) < 0 ||
	    (error = git_revwalk_new(&walk, sw->trepo)) < 0 ||
	    (error = git_revwalk_push(walk, base)) < 0)
		goto done;
	for (size_t i = 0; i < sw->known.count; i++)
		if (git_odb_exists(odb, &sw->known.ids[i]))
			git_revwalk_hide(walk, &sw->known.ids[i]);
	if ((error = git_packbuilder_new(&pb, sw->trepo)) < 0 ||
	    (error = git_packbuilder_insert_walk(pb, walk)) < 0 ||
	    (error = git_packbuilder_write_buf(out, pb)) < 0)
		goto done;
done:
	if (error < 0)
		error = orch_error_git(
		    error, "cannot pack the start commit for worker '%s'",
		    sw->parent.name);
	git_packbuilder_free(pb);
	git_revwalk_free(walk);
	git_odb_free(odb);
	return error;
}

/* With `remote`: make sure the start commit is there (transport a). */
static int push_start(ssh_worker *sw, const char *hex)
{
	git_remote *remote = NULL;
	git_reference *ref = NULL;
	git_push_options opts;
	git_oid id;
	char name[256], spec[400];
	char *specs[] = {spec};
	git_strarray refspecs = {specs, 1};
	int error;

	git_push_options_init(&opts, GIT_PUSH_OPTIONS_VERSION);
	/* a local ref of this worker's own: other workers' threads push the
	 * same commit at the same time from the same repository */
	snprintf(name, sizeof(name), "refs/orchestrate-start/%s/%s",
	         sw->parent.name, hex);
	snprintf(spec, sizeof(spec), "+%s:refs/orchestrate-start/%s", name,
	         hex);
	git_oid_fromstr(&id, hex);
	if ((error = git_reference_create(&ref, sw->trepo, name, &id, 1,
	                                  "orchestrate: start")) < 0 ||
	    (error = git_remote_create_anonymous(&remote, sw->trepo,
	                                         sw->remote)) < 0)
		goto done;
	/* the remote ref may be locked by another worker pushing the same
	 * commit: try again shortly */
	for (int tries = 0; tries < 5; tries++) {
		if ((error = git_remote_push(remote, &refspecs, &opts)) == 0)
			break;
		usleep(50000 * (tries + 1));
	}
done:
	if (error < 0)
		error = orch_error_git(
		    error, "worker '%s': cannot push the start commit to '%s'",
		    sw->parent.name, sw->remote);
	if (ref)
		git_reference_delete(ref);
	git_reference_free(ref);
	git_remote_free(remote);
	return error;
}

static int fetch_result(ssh_worker *sw, const char *branch)
{
	git_remote *remote = NULL;
	git_fetch_options opts;
	char spec[600];
	char *specs[] = {spec};
	git_strarray refspecs = {specs, 1};
	int error;

	git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
	opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	snprintf(spec, sizeof(spec), "+%s:%s", branch, branch);
	if ((error = git_remote_create_anonymous(&remote, sw->trepo,
	                                         sw->remote)) < 0 ||
	    (error = git_remote_fetch(remote, &refspecs, &opts,
	                              "orchestrate: result")) < 0)
		error = orch_error_git(
		    error, "worker '%s': cannot fetch '%s' from '%s'",
		    sw->parent.name, branch, sw->remote);
	git_remote_free(remote);
	return error;
}

/* Move the task's output (its stderr) to where read_output finds it. */
static void drain_output(ssh_worker *sw, struct orch_job *job)
{
	if (!job->run.err.len)
		return;
	pthread_mutex_lock(&sw->mu);
	orch_buf_put(&job->output, job->run.err.ptr, job->run.err.len);
	pthread_mutex_unlock(&sw->mu);
	orch_buf_clear(&job->run.err);
}

/* MARK_LEN random hex digits (the end of an attempt's output). */
static void make_mark(char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char bytes[MARK_LEN / 2];
	ssize_t n = getrandom(bytes, sizeof(bytes), 0);

	if (n != (ssize_t)sizeof(bytes)) {
		/* no getrandom: what differs between attempts, hashed */
		static unsigned counter;
		char seed[128];
		git_oid id;
		snprintf(seed, sizeof(seed), "%lld %d %u %p",
		         (long long)orch_monotonic_ms(), (int)getpid(),
		         counter++, (void *)out);
		git_odb_hash(&id, seed, strlen(seed), GIT_OBJECT_BLOB);
		memcpy(bytes, id.id, sizeof(bytes));
	}
	for (size_t i = 0; i < sizeof(bytes); i++) {
		out[2 * i] = hex[bytes[i] >> 4];
		out[2 * i + 1] = hex[bytes[i] & 15];
	}
	out[MARK_LEN] = '\0';
}

/* A slot shell with no attempt, started when there is none. */
static slot_shell *idle_shell(ssh_worker *sw)
{
	slot_shell *sh;
	char *cmd;

	for (sh = sw->shells; sh; sh = sh->next)
		if (!sh->job && !sh->ex.done)
			return sh;
	sh = orch_calloc(1, sizeof(*sh));
	sh->slot = -1;
	cmd = remote_command(slot_script, NULL, 0);
	orch_ssh_exec_init(&sh->ex, cmd, NULL, 0);
	free(cmd);
	sh->ex.keep_input = 1;
	sh->next = sw->shells;
	sw->shells = sh;
	return sh;
}

static void start_run(ssh_worker *sw, struct orch_job *job)
{
	char attempt[16], hint[16] = "";
	const char *words[20];
	slot_shell *sh;
	orch_buf *line;

	snprintf(attempt, sizeof(attempt), "%d", job->attempt);
	words[0] = sw->top;
	words[1] = job->id;
	words[2] = attempt;
	words[3] = job->base_hex;
	words[4] = job->command;
	words[5] = job->message;
	words[6] = job->prompt ? "1" : "0";
	words[7] = job->plan;
	words[8] = job->task;
	words[9] = sw->parent.name;
	words[10] = sw->remote ? sw->remote : "";
	words[11] = job->branch;
	words[12] = sw->sig_name;
	words[13] = sw->sig_email;
	words[14] = sw->env_file ? sw->env_file : "";
	words[15] = job->setup ? job->setup : "";
	words[16] = job->setup_hash;
	words[17] = sw->token;
	words[18] = job->has_conflicts ? "1" : "0";
	sh = idle_shell(sw);
	if (sh->slot >= 0)
		snprintf(hint, sizeof(hint), "%d", sh->slot);
	words[19] = hint;
	make_mark(sh->mark);
	line = &sh->ex.input;
	orch_buf_puts(line, "set -- ");
	orch_shell_quote_line(line, sh->mark, MARK_LEN);
	for (size_t i = 0; i < 20; i++) {
		orch_buf_puts(line, " ");
		orch_shell_quote_line(line, words[i], strlen(words[i]));
	}
	orch_buf_put(line, job->input.ptr, job->input.len);
	orch_buf_puts(line, "\n");
	sh->job = job;
	sh->scan = 0;
	sh->out_end = sh->err_end = 0;
	job->shell = sh;
	memset(&job->run, 0, sizeof(job->run));
	job->run.exit_status = -1;
	job->running = 1;
	job->phase = J_RUN;
}

/*
 * Hand what a slot shell wrote to its attempt: stdout up to "MARK STATUS"
 * (the status is the attempt's), stderr up to MARK (held back while it
 * may be the start of one). What comes after the marks, or while it is
 * idle, is nobody's (a watchdog's last "."): dropped. 1 when the
 * attempt's output ended.
 */
static int route(slot_shell *sh)
{
	struct orch_job *job = sh->job;
	orch_ssh_exec *ex = &sh->ex;

	if (!job || sh->out_end)
		orch_buf_clear(&ex->out);
	if (!job || sh->err_end)
		orch_buf_clear(&ex->err);
	if (!job)
		return 0;
	if (ex->out.len) {
		orch_buf *o = &job->run.out;
		char *m, *nl;
		orch_buf_put(o, ex->out.ptr, ex->out.len);
		orch_buf_clear(&ex->out);
		m = memmem(o->ptr + sh->scan, o->len - sh->scan, sh->mark,
		           MARK_LEN);
		if (!m) {
			sh->scan = o->len > MARK_LEN ? o->len - MARK_LEN : 0;
		} else if ((nl = memchr(m, '\n',
		                        (size_t)(o->ptr + o->len - m)))) {
			*nl = '\0';
			job->run.exit_status = atoi(m + MARK_LEN);
			o->len = (size_t)(m - o->ptr);
			o->ptr[o->len] = '\0';
			sh->out_end = 1;
		} else {
			sh->scan = (size_t)(m - o->ptr);
		}
	}
	if (ex->err.len) {
		char *m = memmem(ex->err.ptr, ex->err.len, sh->mark, MARK_LEN);
		if (m) {
			orch_buf_put(&job->run.err, ex->err.ptr,
			             (size_t)(m - ex->err.ptr));
			orch_buf_clear(&ex->err);
			sh->err_end = 1;
		} else if (ex->err.len >= MARK_LEN) {
			size_t n = ex->err.len - (MARK_LEN - 1);
			orch_buf_put(&job->run.err, ex->err.ptr, n);
			memmove(ex->err.ptr, ex->err.ptr + n, MARK_LEN - 1);
			ex->err.len = MARK_LEN - 1;
			ex->err.ptr[ex->err.len] = '\0';
		}
	}
	if (sh->out_end && sh->err_end) {
		/* its first line: "S slot" */
		const char *o = job->run.out.ptr;
		sh->slot = o && o[0] == 'S' && o[1] == ' ' ? atoi(o + 2) : -1;
		job->run.done = 1;
		job->shell = NULL;
		sh->job = NULL;
		sh->served++;
		return 1;
	}
	return 0;
}

/*
 * A slot shell ended under its attempt (killed, or it could not start):
 * what is left of the attempt is stopped and it is lost (run again,
 * elsewhere or in a new shell); after three such ends in a row it fails.
 */
static void shell_ended(ssh_worker *sw, slot_shell *sh)
{
	struct orch_job *job = sh->job;

	job->shell = NULL;
	sh->job = NULL;
	job->running = 0;
	if (job->run.err.len)
		drain_output(sw, job);
	if (++sw->shell_deaths >= 3) {
		char why[300];
		snprintf(why, sizeof(why),
		         "worker '%s': the shell of its slot ended (exit "
		         "status %d) before the attempt did",
		         sw->parent.name, sh->ex.exit_status);
		job_failed(sw, job, -1, why);
		return;
	}
	job->phase = J_ORPHAN;
	job->kill_done = 0;
	job->lost_reason_set = 1;
	snprintf(job->lost_reason, sizeof(job->lost_reason),
	         "the shell of the slot that ran it ended (exit status %d); "
	         "the attempt was stopped on the worker",
	         sh->ex.exit_status);
}

/* Drive the slot shells; ORCH_ERROR when the session broke. */
static int step_shells(ssh_worker *sw, int *progress)
{
	slot_shell **link = &sw->shells;

	while (*link) {
		slot_shell *sh = *link;
		int rc = orch_ssh_exec_step(sw->ssh, &sh->ex);
		if (rc < 0)
			return rc;
		*progress |= rc;
		if (route(sh))
			sw->shell_deaths = 0;
		if (!sh->ex.done) {
			link = &sh->next;
			continue;
		}
		if (sh->job)
			shell_ended(sw, sh);
		*link = sh->next;
		shell_free(sh);
		*progress = 1;
	}
	return 0;
}

/* Is another job already sending this start commit? */
static int base_in_flight(ssh_worker *sw, const git_oid *base)
{
	for (struct orch_job *j = sw->jobs; j; j = j->next)
		if (j->sending && git_oid_equal(&j->base, base))
			return 1;
	return 0;
}

/*
 * Is the worktree of a failed attempt about to be kept (finish with keep,
 * its mark not on the worker yet)? Until it is, its slot looks free to a
 * new attempt, which a slot shell would start at once.
 */
static int keep_pending(ssh_worker *sw)
{
	int pending = 0;

	pthread_mutex_lock(&sw->mu);
	for (struct orch_job *j = sw->jobs; j && !pending; j = j->next)
		pending = j->finish_requested && j->keep && j->ended &&
		          !j->freeable && !j->reap_only && j->slot >= 0 &&
		          !j->result.has_result;
	pthread_mutex_unlock(&sw->mu);
	return pending;
}

static int begin(ssh_worker *sw, struct orch_job *job)
{
	const char *words[2];
	git_buf pack = {0};
	int error;

	if (oid_set_has(&sw->known, &job->base)) {
		start_run(sw, job);
		return 0;
	}
	if (base_in_flight(sw, &job->base))
		return 0;
	if (sw->remote) {
		/* the worker fetches it itself, in the task script */
		if ((error = push_start(sw, job->base_hex)) < 0) {
			job_failed(sw, job, -1, orch_error_message());
			return 0;
		}
		oid_set_add(&sw->known, &job->base);
		start_run(sw, job);
		return 0;
	}
	if ((error = build_pack(&pack, sw, &job->base)) < 0) {
		job_failed(sw, job, -1, orch_error_message());
		return 0;
	}
	words[0] = sw->top;
	words[1] = job->base_hex;
	start_exec(sw, &job->send, receive_script, words, 2, pack.ptr,
	           pack.size);
	git_buf_dispose(&pack);
	job->sending = 1;
	job->phase = J_SEND;
	return 0;
}

/* A time as `times` prints it, "1m2.345000s", in ms; -1 if not one. */
static int64_t times_ms(const char *word)
{
	int64_t minutes = 0, seconds = 0, ms = 0, scale = 100;
	const char *p = word;

	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9')
		minutes = minutes * 10 + (*p++ - '0');
	if (*p++ != 'm' || *p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9')
		seconds = seconds * 10 + (*p++ - '0');
	if (*p == '.' || *p == ',')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			ms += (*p - '0') * scale;
	return *p == 's' ? (minutes * 60 + seconds) * 1000 + ms : -1;
}

/* "u0 s0 u1 s1 kb" of the task script: the command's resource use. */
static void parse_usage(orch_job_result *res, const char *text, size_t len)
{
	char buf[256], *words[5], *save = NULL;
	int64_t t[4];
	int n = 0;

	snprintf(buf, sizeof(buf), "%.*s", (int)len, text);
	for (char *w = strtok_r(buf, " ", &save); w && n < 5;
	     w = strtok_r(NULL, " ", &save))
		words[n++] = w;
	if (n != 5)
		return;
	for (int i = 0; i < 4; i++)
		if ((t[i] = times_ms(words[i])) < 0)
			return;
	if (t[2] + t[3] >= t[0] + t[1]) {
		res->cpu_ms = t[2] + t[3] - t[0] - t[1];
		res->cpu_known = 1;
	}
	if (atoll(words[4]) > 0) {
		res->max_rss_kb = atoll(words[4]);
		res->rss_known = 1;
	}
}

/* The task script ended: read its answer, bring the result home. */
static void collect(ssh_worker *sw, struct orch_job *job)
{
	orch_ssh_exec *ex = &job->run;
	orch_job_result res = {0};
	const char *p = ex->out.ptr ? ex->out.ptr : "", *end = p + ex->out.len;
	const char *pack = NULL;
	char result_hex[GIT_OID_HEXSZ + 1] = "",
	                                tree_hex[GIT_OID_HEXSZ + 1] = "";
	int status = -1, setup_status = -1, no_change = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (len >= 2 && p[0] == 'S')
			job->slot = atoi(p + 2);
		else if (len >= 2 && p[0] == 'U')
			setup_status = atoi(p + 2);
		else if (len >= 2 && p[0] == 'C')
			parse_usage(&res, p + 2, len - 2);
		else if (len >= 2 && p[0] == 'F') {
			long long size = atoll(p + 2);
			const char *bytes = nl ? nl + 1 : end;
			if (size < 0 || (size <= ORCH_SHARED_MAX &&
			                 (long long)(end - bytes) < size))
				goto bad;
			pthread_mutex_lock(&sw->mu);
			orch_buf_clear(&job->shared);
			job->shared_too_big = 0;
			if (size > ORCH_SHARED_MAX)
				job->shared_too_big = size;
			else
				orch_buf_put(&job->shared, bytes, (size_t)size);
			pthread_mutex_unlock(&sw->mu);
			p = size > ORCH_SHARED_MAX ? bytes : bytes + size;
			continue;
		} else if (len >= 2 && p[0] == 'X')
			status = atoi(p + 2);
		else if (len == 2 + GIT_OID_HEXSZ && p[0] == 'R')
			memcpy(result_hex, p + 2, GIT_OID_HEXSZ);
		else if (len == 2 + GIT_OID_HEXSZ && p[0] == 'T')
			memcpy(tree_hex, p + 2, GIT_OID_HEXSZ);
		else if (len == 1 && p[0] == 'N')
			no_change = 1;
		else if (len == 1 && p[0] == 'P') {
			pack = nl ? nl + 1 : end;
			break;
		}
		p = nl ? nl + 1 : end;
	}
	res.phase = ORCH_JOB_EXITED;
	if (setup_status >= 0) {
		res.setup_failed = 1;
		res.exit_status = setup_status;
		snprintf(res.error, sizeof(res.error),
		         "setup failed on slot %d of worker %s: exit status %d",
		         job->slot, sw->parent.name, setup_status);
		goto done;
	}
	if (status < 0 && job->adopting) {
		job->adopt_missing = 1;
		res.exit_status = -1;
		goto done;
	}
	if (status < 0) {
		/* the script stopped before the command ran */
		res.exit_status = ex->exit_status >= 0 ? ex->exit_status : -1;
		snprintf(res.error, sizeof(res.error),
		         "worker '%s': could not start the task (%d)",
		         sw->parent.name, ex->exit_status);
		goto done;
	}
	res.exit_status = status;
	if (status != 0 || job->cancel_requested) {
		snprintf(res.error, sizeof(res.error), "%s (exit status %d)",
		         job->cancel_requested ? "terminated" : "exit status",
		         status);
		if (!job->cancel_requested)
			snprintf(res.error, sizeof(res.error), "exit status %d",
			         status);
		goto done;
	}
	if ((no_change || tree_hex[0]) && !result_hex[0] && !sw->remote) {
		/* the commit is made by the scheduler's poll (store_result),
		 * of the tree sent, or of the start commit's when nothing
		 * changed; the worker has not that commit */
		orch_buf_clear(&job->pack);
		memset(&job->result_tree, 0, sizeof(job->result_tree));
		if (tree_hex[0] &&
		    (!pack || pack >= end ||
		     git_oid_fromstr(&job->result_tree, tree_hex) < 0))
			goto bad;
		if (tree_hex[0])
			orch_buf_put(&job->pack, pack, (size_t)(end - pack));
		job->commit_here = 1;
		job->pack_pending = 1;
		res.has_result = 1;
		goto done;
	}
	if (!result_hex[0]) {
		res.exit_status = -1;
		snprintf(res.error, sizeof(res.error),
		         "worker '%s': the command succeeded but its result "
		         "could not be committed",
		         sw->parent.name);
		goto done;
	}
	if (git_oid_fromstr(&res.result, result_hex) < 0)
		goto bad;
	if (sw->remote) {
		if (fetch_result(sw, job->branch) < 0) {
			res.exit_status = -1;
			snprintf(res.error, sizeof(res.error), "%s",
			         orch_error_message());
			goto done;
		}
	} else {
		/* stored by the scheduler's poll (store_result) */
		if (!pack || pack >= end)
			goto bad;
		orch_buf_clear(&job->pack);
		orch_buf_put(&job->pack, pack, (size_t)(end - pack));
		job->pack_pending = 1;
		oid_set_add(&sw->known, &res.result);
		res.has_result = 1;
		goto done;
	}
	{
		git_reference *ref = NULL;
		git_commit *commit = NULL;
		int error = git_commit_lookup(&commit, sw->trepo, &res.result);
		if (error == 0)
			error = git_reference_create(&ref, sw->trepo,
			                             job->branch, &res.result,
			                             1, "orchestrate: result");
		git_commit_free(commit);
		git_reference_free(ref);
		if (error < 0) {
			orch_error_git(
			    error,
			    "worker '%s': cannot record the result on '%s'",
			    sw->parent.name, job->branch);
			res.exit_status = -1;
			snprintf(res.error, sizeof(res.error), "%s",
			         orch_error_message());
			goto done;
		}
	}
	oid_set_add(&sw->known, &res.result);
	res.has_result = 1;
	goto done;
bad:
	res.exit_status = -1;
	snprintf(res.error, sizeof(res.error),
	         "worker '%s': malformed answer from the task script",
	         sw->parent.name);
done:
	job_end(sw, job, &res);
}

/* Advance one job; ORCH_ERROR when the session broke. */
static int advance(ssh_worker *sw, struct orch_job *job, int *progress)
{
	int rc = 0, cancel, finish, keep;

	pthread_mutex_lock(&sw->mu);
	cancel = job->cancel_requested;
	finish = job->finish_requested;
	keep = job->keep;
	pthread_mutex_unlock(&sw->mu);

	if (job->phase == J_NEW) {
		if (finish || cancel) {
			job_failed(sw, job, 128 + SIGTERM,
			           "cancelled before it started");
		} else if (job->reap_only) {
			job->phase = J_ORPHAN;
		} else if (job->adopting) {
			char attempt[16];
			const char *words[5];
			snprintf(attempt, sizeof(attempt), "%d", job->attempt);
			words[0] = sw->top;
			words[1] = job->id;
			words[2] = attempt;
			words[3] = job->base_hex;
			words[4] = sw->remote ? sw->remote : "";
			start_exec(sw, &job->run, adopt_script, words, 5, NULL,
			           0);
			job->running = 1;
			job->phase = J_RUN;
			*progress = 1;
		} else if (!keep_pending(sw)) {
			begin(sw, job);
			*progress = 1;
		}
	}
	if (job->sending) {
		if ((rc = orch_ssh_exec_step(sw->ssh, &job->send)) < 0)
			return rc;
		*progress |= rc;
		if (job->send.done && job->phase == J_RELEASE) {
			job->sending = 0;
			orch_ssh_exec_clear(&job->send);
		} else if (job->send.done) {
			job->sending = 0;
			if (job->send.exit_status == 0) {
				oid_set_add(&sw->known, &job->base);
				start_run(sw, job);
			} else {
				char why[400];
				snprintf(why, sizeof(why),
				         "worker '%s': cannot receive the "
				         "start commit: %s",
				         sw->parent.name,
				         job->send.err.ptr ? job->send.err.ptr
				                           : "");
				job_failed(sw, job, -1, why);
			}
			orch_ssh_exec_clear(&job->send);
			*progress = 1;
		}
	}
	if (job->phase == J_ORPHAN && !job->killing && !job->kill_done) {
		start_kill(sw, job, 1);
		*progress = 1;
	}
	if (job->running) {
		if ((cancel || finish) && !job->killing && !job->kill_done) {
			start_kill(sw, job, finish ? 0 : KILL_GRACE_S);
			*progress = 1;
		}
		/* one in a slot shell is driven by step_shells */
		if (!job->shell && !job->run.done) {
			if ((rc = orch_ssh_exec_step(sw->ssh, &job->run)) < 0)
				return rc;
			*progress |= rc;
		}
		drain_output(sw, job);
		if (job->run.done) {
			job->running = 0;
			collect(sw, job);
			orch_ssh_exec_clear(&job->run);
			*progress = 1;
		}
	}
	if (job->killing) {
		if ((rc = orch_ssh_exec_step(sw->ssh, &job->kill)) < 0)
			return rc;
		*progress |= rc;
		if (job->kill.done) {
			int ok = job->kill.exit_status == 0;
			job->killing = 0;
			job->kill_done = 1;
			orch_ssh_exec_clear(&job->kill);
			if (job->phase == J_ORPHAN) {
				if (job->reap_only && !ok)
					job_failed(sw, job, -1,
					           "its process group could "
					           "not be stopped");
				else if (job->reap_only)
					job_failed(sw, job, 0, "");
				else
					job_lost(sw, job,
					         job->lost_reason_set
					             ? job->lost_reason
					             : "connection lost; the "
					               "attempt was stopped on "
					               "the worker");
			}
			*progress = 1;
		}
	}
	if (job->phase == J_ENDED && finish && !job->running && !job->killing &&
	    !job->sending) {
		if (keep && !job->reap_only && !job->result.has_result &&
		    job->slot >= 0) {
			/* a kept worktree: its slot must not be re-used */
			char slot[16];
			const char *words[3];
			snprintf(slot, sizeof(slot), "%d", job->slot);
			words[0] = sw->top;
			words[1] = slot;
			words[2] = job->id;
			start_exec(sw, &job->send, keep_script, words, 3, NULL,
			           0);
			job->sending = 1;
			job->phase = J_RELEASE;
		} else {
			job->freeable = 1;
		}
		*progress = 1;
	}
	if (job->phase == J_RELEASE && !job->sending)
		job->freeable = 1;
	return 0;
}

/* Jobs that cannot wait for a connection any more. */
static void lose_all(ssh_worker *sw, const char *why)
{
	for (struct orch_job *job = sw->jobs; job; job = job->next) {
		if (job->phase == J_NEW && !job->reap_only) {
			job_lost(sw, job, why);
		} else if (job->phase == J_ORPHAN || job->phase == J_NEW) {
			/*
			 * Its copy may still run there until the watchdog of
			 * the task script notices the dropped connection and
			 * stops it.
			 */
			orch_buf text = {0};
			orch_buf_printf(
			    &text,
			    "%s (the worker stops the attempt itself "
			    "when it notices the dropped connection)",
			    why);
			if (job->reap_only)
				job_failed(sw, job, -1, text.ptr);
			else
				job_lost(sw, job, text.ptr);
			orch_buf_free(&text);
		}
	}
}

static void try_connect(ssh_worker *sw)
{
	int error = connect_worker(sw);
	char reason[256];

	if (error == 0) {
		sw->failures = 0;
		set_down(sw, 0, NULL);
		return;
	}
	snprintf(reason, sizeof(reason), "%s", orch_error_message());
	sw->failures++;
	if (error == ORCH_EINVALID || sw->failures >= RECONNECT_TRIES) {
		set_down(sw, 1, reason);
		lose_all(sw, reason);
	}
	/* a worker back after a short outage is used again soon: the wait
	 * keeps doubling rather than jumping to its longest once down */
	sw->next_connect_ms =
	    orch_monotonic_ms() +
	    orch_worker_ssh_reconnect_ms(sw->failures, error == ORCH_EINVALID);
}

int64_t orch_worker_ssh_reconnect_ms(int failures, int hopeless)
{
	if (hopeless || failures > 5)
		return RECONNECT_MAX_MS;
	if (failures < 1)
		failures = 1;
	int64_t ms = 1000LL << (failures - 1);
	return ms < RECONNECT_MAX_MS ? ms : RECONNECT_MAX_MS;
}

/*
 * Before the session goes: end the slot shells' input and wait (a little)
 * until they are gone, so that the slots they kept are free when the run
 * is over.
 */
static void close_shells(ssh_worker *sw)
{
	int64_t deadline = orch_monotonic_ms() + 3000;

	if (!sw->ssh)
		return;
	for (slot_shell *sh = sw->shells; sh; sh = sh->next)
		sh->ex.keep_input = 0;
	while (sw->shells && orch_monotonic_ms() < deadline) {
		int progress = 0;
		if (step_shells(sw, &progress) < 0)
			break;
		if (!progress)
			orch_ssh_wait(sw->ssh, -1, 50);
	}
}

static void *worker_thread(void *payload)
{
	ssh_worker *sw = payload;
	int error;

	signal(SIGPIPE, SIG_IGN);
	if ((error = git_repository_open(&sw->trepo, sw->repo_path)) < 0) {
		orch_error_git(error, "cannot open '%s'", sw->repo_path);
	} else {
		error = connect_worker(sw);
	}
	pthread_mutex_lock(&sw->mu);
	sw->initial_done = 1;
	sw->initial_error = error;
	if (error < 0) {
		snprintf(sw->initial_msg, sizeof(sw->initial_msg), "%s",
		         orch_error_message());
		snprintf(sw->initial_hint, sizeof(sw->initial_hint), "%s",
		         orch_error_hint_text() ? orch_error_hint_text() : "");
		sw->parent.down = 1;
		snprintf(sw->parent.down_reason, sizeof(sw->parent.down_reason),
		         "%s", without_name(sw, orch_error_message()));
		sw->failures = 1;
		sw->next_connect_ms =
		    orch_monotonic_ms() +
		    orch_worker_ssh_reconnect_ms(1, error == ORCH_EINVALID);
	}
	pthread_cond_broadcast(&sw->cond);
	pthread_mutex_unlock(&sw->mu);

	for (;;) {
		struct orch_job *job, **link;
		int progress = 0, stop, broken = 0;

		pthread_mutex_lock(&sw->mu);
		stop = sw->stop;
		job = sw->jobs;
		pthread_mutex_unlock(&sw->mu);
		if (stop)
			break;
		if (!sw->ssh && sw->trepo &&
		    orch_monotonic_ms() >= sw->next_connect_ms) {
			try_connect(sw);
			progress = 1;
		}
		if (sw->ssh && step_shells(sw, &progress) < 0) {
			broken = 1;
			job = NULL;
		}
		if (sw->ssh) {
			for (; job; job = job->next) {
				if (job->freeable ||
				    advance(sw, job, &progress) == 0)
					continue;
				broken = 1;
				break;
			}
			if (!broken && orch_ssh_keepalive(sw->ssh) < 0)
				broken = 1;
			if (broken) {
				disconnect(sw);
				sw->failures = 0;
				sw->next_connect_ms = orch_monotonic_ms();
				progress = 1;
			}
		} else {
			/* not connected: jobs only end or go */
			for (; job; job = job->next)
				if (job->phase == J_ENDED ||
				    job->phase == J_RELEASE) {
					int finish;
					pthread_mutex_lock(&sw->mu);
					finish = job->finish_requested;
					pthread_mutex_unlock(&sw->mu);
					if (finish)
						job->freeable = 1;
				}
		}
		/* free what the scheduler is done with */
		pthread_mutex_lock(&sw->mu);
		for (link = &sw->jobs; *link;) {
			if ((*link)->freeable) {
				struct orch_job *gone = *link;
				*link = gone->next;
				job_free(gone);
				pthread_cond_broadcast(&sw->cond);
			} else {
				link = &(*link)->next;
			}
		}
		pthread_mutex_unlock(&sw->mu);
		if (!progress) {
			if (sw->ssh) {
				orch_ssh_wait(sw->ssh, sw->wake[0], 1000);
			} else {
				struct pollfd pfd = {sw->wake[0], POLLIN, 0};
				int64_t wait =
				    sw->next_connect_ms - orch_monotonic_ms();
				poll(&pfd, 1,
				     wait < 0      ? 0
				     : wait > 1000 ? 1000
				                   : (int)wait);
			}
			{
				char drain[64];
				while (read(sw->wake[0], drain, sizeof(drain)) >
				       0)
					;
			}
		}
	}
	close_shells(sw);
	disconnect(sw);
	git_repository_free(sw->trepo);
	sw->trepo = NULL;
	return NULL;
}

static void enqueue(ssh_worker *sw, struct orch_job *job)
{
	pthread_mutex_lock(&sw->mu);
	job->next = sw->jobs;
	sw->jobs = job;
	pthread_mutex_unlock(&sw->mu);
	wake_thread(sw);
}

static char *joinf(const char *a, const char *sep, const char *b)
{
	orch_buf buf = {0};
	orch_buf_printf(&buf, "%s%s%s", a, sep, b);
	return orch_buf_detach(&buf);
}

/*
 * The end of an attempt's request to its slot shell: the conflicting paths
 * of a re-run on conflict (or ""), the context, the prompt, then a word
 * "NAME=VALUE" per variable `env` names, each " " and quoted on one line.
 */
static void request_words(orch_buf *out, const orch_job_spec *spec)
{
	const char *words[3];
	size_t count = spec->env ? spec->env->count : 0;

	words[0] = spec->conflicts ? spec->conflicts : "";
	words[1] = spec->context ? spec->context : "";
	words[2] = spec->prompt ? spec->prompt : "";
	for (size_t i = 0; i < 3; i++) {
		orch_buf_puts(out, " ");
		orch_shell_quote_line(out, words[i], strlen(words[i]));
	}
	for (size_t i = 0; i < count; i++) {
		const char *var = spec->env->items[i];
		orch_buf_puts(out, " ");
		orch_shell_quote_line(out, var, strlen(var));
	}
}

/* A job for the attempt `spec` describes, not queued yet. */
static int new_job(struct orch_job **out, const orch_job_spec *spec)
{
	struct orch_job *job = orch_calloc(1, sizeof(*job));

	*out = NULL;
	job->slot = -1;
	job->plan = orch_strdup(spec->plan);
	job->task = orch_strdup(spec->task);
	job->id = joinf(spec->plan, "+", spec->task);
	job->branch = orch_strdup(spec->branch);
	job->command = orch_strdup(spec->command);
	if (spec->setup) {
		git_oid hash;
		job->setup = orch_strdup(spec->setup);
		git_odb_hash(&hash, spec->setup, strlen(spec->setup),
		             GIT_OBJECT_BLOB);
		git_oid_tostr(job->setup_hash, sizeof(job->setup_hash), &hash);
	}
	job->message = orch_strdup(spec->message ? spec->message : spec->task);
	job->prompt = spec->prompt ? orch_strdup(spec->prompt) : NULL;
	job->has_conflicts = spec->conflicts != NULL;
	request_words(&job->input, spec);
	job->attempt = spec->attempt;
	if (!spec->base || git_oid_fromstr(&job->base, spec->base) < 0) {
		job_free(job);
		return orch_error_set("task '%s': invalid start commit '%s'",
		                      spec->task, spec->base ? spec->base : "");
	}
	git_oid_tostr(job->base_hex, sizeof(job->base_hex), &job->base);
	*out = job;
	return 0;
}

static int ssh_start(orch_job **out, orch_worker *worker,
                     const orch_job_spec *spec)
{
	ssh_worker *sw = (ssh_worker *)worker;
	struct orch_job *job;
	int error;

	*out = NULL;
	if ((error = new_job(&job, spec)) < 0)
		return error;
	/* the task branch is written once, by the result (store_result): no
	 * worktree here is on it, and each write of a ref makes a file and
	 * frees the one it replaces (trash.h) */
	enqueue(sw, job);
	*out = job;
	return 0;
}

struct copy_objects {
	git_odb *from, *to;
};

static int copy_object(const git_oid *id, void *payload)
{
	struct copy_objects *c = payload;
	git_odb_object *obj = NULL;
	git_oid written;
	int error = git_odb_read(&obj, c->from, id);

	if (error == 0)
		error = git_odb_write(&written, c->to, git_odb_object_data(obj),
		                      git_odb_object_size(obj),
		                      git_odb_object_type(obj));
	git_odb_object_free(obj);
	return error;
}

/*
 * The objects of `pack` into the object database of `repo` one by one, as
 * any other object the run writes (loose, or into the run's packs when a
 * store of `repo` records them, store_pack.c): a pack of its own per
 * result would leave one more pack file per task, which every later lookup
 * of a missing object searches again. The pack is indexed in a temporary
 * directory beside the objects, removed afterwards.
 */
static int unpack_objects(git_repository *repo, const char *pack, size_t len)
{
	git_buf objects = GIT_BUF_INIT;
	git_indexer *idx = NULL;
	git_indexer_progress stats = {0};
	git_odb *odb = NULL, *tmp = NULL;
	git_odb_backend *backend = NULL;
	struct copy_objects copy;
	orch_buf dir = {0}, file = {0};
	int error;

	if ((error = git_repository_item_path(
	         &objects, repo, GIT_REPOSITORY_ITEM_OBJECTS)) < 0 ||
	    (error = git_repository_odb(&odb, repo)) < 0)
		goto done;
	orch_buf_printf(&dir, "%sorchestrate-result-XXXXXX", objects.ptr);
	if (!mkdtemp(dir.ptr)) {
		error = orch_error_set("cannot create '%s': %s", dir.ptr,
		                       strerror(errno));
		goto out;
	}
	if ((error = git_indexer_new(&idx, dir.ptr, 0, odb, NULL)) < 0 ||
	    (error = git_indexer_append(idx, pack, len, &stats)) < 0 ||
	    (error = git_indexer_commit(idx, &stats)) < 0)
		goto done;
	orch_buf_printf(&file, "%s/pack-%s.idx", dir.ptr,
	                git_indexer_name(idx));
	if ((error = git_odb_new(&tmp)) < 0 ||
	    (error = git_odb_backend_one_pack(&backend, file.ptr)) < 0)
		goto done;
	if ((error = git_odb_add_backend(tmp, backend, 1)) < 0) {
		backend->free(backend);
		goto done;
	}
	copy.from = tmp;
	copy.to = odb;
	error = git_odb_foreach(tmp, copy_object, &copy);
done:
	if (error < 0)
		orch_error_git(error, "cannot store the objects of the result");
out:
	git_odb_free(tmp);
	git_indexer_free(idx);
	git_odb_free(odb);
	if (file.len) {
		unlink(file.ptr);
		file.len -= strlen("idx");
		file.ptr[file.len] = '\0';
		orch_buf_puts(&file, "pack");
		unlink(file.ptr);
	}
	if (dir.ptr)
		rmdir(dir.ptr);
	orch_buf_free(&dir);
	orch_buf_free(&file);
	git_buf_dispose(&objects);
	return error;
}

/*
 * The result commit of an attempt whose worker sent its tree (NULL
 * `tree_id`: it changed nothing, the start commit's tree): the commit
 * `git commit --allow-empty -F -` would have made on the worker, on its
 * start commit.
 */
static int commit_result(git_oid *out, ssh_worker *sw,
                         const struct orch_job *job, const git_oid *tree_id)
{
	git_buf message = GIT_BUF_INIT;
	git_signature *sig = NULL;
	git_commit *base = NULL;
	git_tree *tree = NULL;
	int error;

	/* the cleanup of `git commit -F` (whitespace, comments kept) */
	if ((error = git_message_prettify(&message, job->message, 0, '#')) <
	        0 ||
	    (error = git_signature_now(&sig, sw->sig_name, sw->sig_email)) <
	        0 ||
	    (error = git_commit_lookup(&base, sw->repo, &job->base)) < 0 ||
	    (error = tree_id ? git_tree_lookup(&tree, sw->repo, tree_id)
	                     : git_commit_tree(&tree, base)) < 0 ||
	    (error = git_commit_create(out, sw->repo, NULL, sig, sig, NULL,
	                               message.ptr, tree, 1,
	                               (const git_commit **)&base)) < 0)
		orch_error_git(error, "cannot commit the result on '%s'",
		               job->branch);
	git_tree_free(tree);
	git_commit_free(base);
	git_signature_free(sig);
	git_buf_dispose(&message);
	return error;
}

/* The result the thread collected: its objects, its branch (on the
 * scheduler's thread, on the scheduler's repository). */
static void store_result(ssh_worker *sw, struct orch_job *job)
{
	orch_job_result *res = &job->result;
	git_reference *ref = NULL;
	git_commit *commit = NULL;
	int error = job->pack.len
	                ? unpack_objects(sw->repo, job->pack.ptr, job->pack.len)
	                : 0;

	if (error == 0 && job->commit_here)
		error = commit_result(&res->result, sw, job,
		                      git_oid_is_zero(&job->result_tree)
		                          ? NULL
		                          : &job->result_tree);

	if (error == 0 &&
	    (error = git_commit_lookup(&commit, sw->repo, &res->result)) < 0)
		orch_error_git(error, "cannot record the result on '%s'",
		               job->branch);
	if (error == 0)
		error =
		    orch_worker_set_branch(&ref, sw->repo, job->branch,
		                           &res->result, "orchestrate: result");
	git_commit_free(commit);
	git_reference_free(ref);
	if (error < 0) {
		res->has_result = 0;
		res->exit_status = -1;
		snprintf(res->error, sizeof(res->error), "worker '%s': %s",
		         sw->parent.name, orch_error_message());
	}
	orch_buf_free(&job->pack);
	job->pack_pending = 0;
}

static int ssh_poll(orch_job_result *out, orch_worker *worker, orch_job *job)
{
	ssh_worker *sw = (ssh_worker *)worker;
	int ended;

	pthread_mutex_lock(&sw->mu);
	ended = job->ended;
	pthread_mutex_unlock(&sw->mu);
	/* the thread no longer touches an ended job's result and pack */
	if (ended && job->pack_pending)
		store_result(sw, job);
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&sw->mu);
	if (job->ended)
		*out = job->result;
	else
		out->phase = ORCH_JOB_RUNNING;
	pthread_mutex_unlock(&sw->mu);
	return 0;
}

static int ssh_read_output(orch_buf *out, orch_worker *worker, orch_job *job)
{
	ssh_worker *sw = (ssh_worker *)worker;

	pthread_mutex_lock(&sw->mu);
	if (job->output.len)
		orch_buf_put(out, job->output.ptr, job->output.len);
	orch_buf_clear(&job->output);
	pthread_mutex_unlock(&sw->mu);
	return 0;
}

static int ssh_cancel(orch_worker *worker, orch_job *job)
{
	ssh_worker *sw = (ssh_worker *)worker;

	pthread_mutex_lock(&sw->mu);
	job->cancel_requested = 1;
	pthread_mutex_unlock(&sw->mu);
	wake_thread(sw);
	return 0;
}

static int ssh_finish(orch_worker *worker, orch_job *job, int keep,
                      char **out_worktree)
{
	ssh_worker *sw = (ssh_worker *)worker;

	if (out_worktree)
		*out_worktree = NULL;
	if (!job)
		return 0;
	pthread_mutex_lock(&sw->mu);
	if (keep && out_worktree && job->ended && job->slot >= 0 &&
	    !job->result.has_result) {
		orch_buf buf = {0};
		orch_buf_printf(&buf, "%s:%s/slots/%d", worker->name,
		                sw->top ? sw->top : "?", job->slot);
		*out_worktree = orch_buf_detach(&buf);
	}
	job->keep = keep;
	job->finish_requested = 1;
	pthread_mutex_unlock(&sw->mu);
	wake_thread(sw);
	return 0;
}

/*
 * An SSH attempt's locator: "<plan>+<task>#<attempt>", what names its
 * files under run/ on the worker (the pid file, the cancel mark).
 */
static char *ssh_locator(orch_worker *worker, const orch_job_spec *spec)
{
	orch_buf buf = {0};

	(void)worker;
	orch_buf_printf(&buf, "%s+%s#%d", spec->plan, spec->task,
	                spec->attempt);
	return orch_buf_detach(&buf);
}

/* The id and attempt a locator names; ORCH_ENOTFOUND if it names none. */
static int parse_locator(char **id, int *attempt, const char *locator)
{
	const char *hash = locator ? strrchr(locator, '#') : NULL;
	char *end;
	long n;

	*id = NULL;
	if (!hash || hash == locator || !strchr(locator, '+'))
		return ORCH_ENOTFOUND;
	n = strtol(hash + 1, &end, 10);
	if (*end || n < 0 || n > 1000000)
		return ORCH_ENOTFOUND;
	*id = orch_strndup(locator, (size_t)(hash - locator));
	*attempt = (int)n;
	return 0;
}

static int ssh_reap(orch_worker *worker, const char *locator)
{
	ssh_worker *sw = (ssh_worker *)worker;
	struct orch_job *job;
	char *id = NULL;
	int attempt = 0;
	int64_t deadline = orch_monotonic_ms() + 60000;
	int error = 0;

	if (parse_locator(&id, &attempt, locator) < 0)
		return 0; /* nothing of ours can be found from this locator */
	job = orch_calloc(1, sizeof(*job));
	job->slot = -1;
	job->reap_only = 1;
	job->id = id;
	job->attempt = attempt;
	enqueue(sw, job);
	pthread_mutex_lock(&sw->mu);
	while (!job->ended && orch_monotonic_ms() < deadline) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&sw->cond, &sw->mu, &ts);
	}
	if (!job->ended)
		error = orch_error_set(
		    "worker '%s': cannot make sure attempt '%s' is stopped "
		    "there",
		    worker->name, locator);
	else if (job->result.exit_status != 0)
		error =
		    orch_error_set("worker '%s': cannot make sure attempt "
		                   "'%s' is stopped there: %s",
		                   worker->name, locator, job->result.error);
	job->finish_requested = 1;
	pthread_mutex_unlock(&sw->mu);
	wake_thread(sw);
	return error;
}

/*
 * An attempt of a dead orchestrator that ended on the worker while nobody
 * watched is collected, as if its task script answered now; one that was
 * stopped (or never ran its command) is ORCH_ENOTFOUND: it runs again.
 */
static int ssh_adopt(orch_job **out, orch_worker *worker,
                     const orch_job_spec *spec, const char *locator)
{
	ssh_worker *sw = (ssh_worker *)worker;
	struct orch_job *job;
	char *id = NULL, *want = joinf(spec->plan, "+", spec->task);
	int attempt = -1, missing;
	int64_t deadline = orch_monotonic_ms() + 90000;

	*out = NULL;
	if (parse_locator(&id, &attempt, locator) < 0 || strcmp(id, want) ||
	    attempt != spec->attempt || new_job(&job, spec) < 0) {
		free(id);
		free(want);
		return ORCH_ENOTFOUND;
	}
	free(id);
	free(want);
	job->adopting = 1;
	enqueue(sw, job);
	pthread_mutex_lock(&sw->mu);
	while (!job->ended && orch_monotonic_ms() < deadline) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&sw->cond, &sw->mu, &ts);
	}
	missing = !job->ended || job->adopt_missing;
	if (missing)
		job->finish_requested = 1; /* the thread frees it */
	pthread_mutex_unlock(&sw->mu);
	if (missing) {
		wake_thread(sw);
		return ORCH_ENOTFOUND;
	}
	*out = job;
	return 0;
}

/* The first connection (made by the thread): its errors are the ones a
 * user must see; unreachable for now is not one (down, retried). */
static int ssh_ready(orch_worker *worker)
{
	ssh_worker *sw = (ssh_worker *)worker;
	int error;

	pthread_mutex_lock(&sw->mu);
	while (!sw->initial_done)
		pthread_cond_wait(&sw->cond, &sw->mu);
	error = sw->initial_error;
	pthread_mutex_unlock(&sw->mu);
	if (error == ORCH_EINVALID) {
		orch_error_set("%s", sw->initial_msg);
		if (sw->initial_hint[0])
			orch_error_hint("%s", sw->initial_hint);
		return error;
	}
	return 0;
}

/*
 * Under the mutex: wait (at most 15 s) until the thread has released every
 * job the scheduler finished, so that the mark keeping a failed attempt's
 * worktree reaches the worker before the session goes (else the next task
 * would take that slot over).
 */
static void wait_released(ssh_worker *sw)
{
	int64_t deadline = orch_monotonic_ms() + 15000;

	for (;;) {
		int pending = 0;
		for (struct orch_job *job = sw->jobs; job; job = job->next)
			if (job->finish_requested && job->keep)
				pending = 1;
		if (!pending || orch_monotonic_ms() >= deadline)
			return;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&sw->cond, &sw->mu, &ts);
	}
}

static void ssh_close(orch_worker *worker)
{
	ssh_worker *sw = (ssh_worker *)worker;

	if (!sw)
		return;
	if (sw->thread_started) {
		pthread_mutex_lock(&sw->mu);
		wait_released(sw);
		sw->stop = 1;
		pthread_mutex_unlock(&sw->mu);
		wake_thread(sw);
		pthread_join(sw->thread, NULL);
	}
	while (sw->jobs) {
		struct orch_job *job = sw->jobs;
		sw->jobs = job->next;
		job_free(job);
	}
	pthread_mutex_destroy(&sw->mu);
	pthread_cond_destroy(&sw->cond);
	if (sw->wake[0] >= 0)
		close(sw->wake[0]);
	if (sw->wake[1] >= 0)
		close(sw->wake[1]);
	orch_ssh_target_clear(&sw->target);
	free(sw->known.ids);
	free(sw->workdir);
	free(sw->remote);
	free(sw->env_file);
	free(sw->key);
	free(sw->repo_path);
	free(sw->token);
	free(sw->top);
	orch_worker_base_clear(worker);
	free(sw);
}

static int ssh_read_shared(orch_buf *out, orch_worker *worker, orch_job *job)
{
	ssh_worker *sw = (ssh_worker *)worker;
	int error = 0;

	pthread_mutex_lock(&sw->mu);
	if (job->shared_too_big) {
		orch_error_set("the share file holds %lld bytes, more than the "
		               "%d an attempt may share; none of it is stored",
		               job->shared_too_big, ORCH_SHARED_MAX);
		error = ORCH_EINVALID;
	} else if (job->shared.len) {
		orch_buf_put(out, job->shared.ptr, job->shared.len);
	}
	pthread_mutex_unlock(&sw->mu);
	return error;
}

static const orch_worker_ops ssh_ops = {
    .start = ssh_start,
    .poll = ssh_poll,
    .read_output = ssh_read_output,
    .read_shared = ssh_read_shared,
    .cancel = ssh_cancel,
    .finish = ssh_finish,
    .locator = ssh_locator,
    .reap = ssh_reap,
    /* an attempt that ended unwatched is collected; one that still ran
     * when its connection dropped was stopped by the script's watchdog */
    .adopt = ssh_adopt,
    .ready = ssh_ready,
    .close = ssh_close,
};

/* "<name of the work tree>-<8 hex of the repository path>": stable per clone.
 */
static char *project_key(git_repository *repo)
{
	const char *common = git_repository_commondir(repo);
	git_oid id;
	char hex[GIT_OID_HEXSZ + 1], name[64] = "repo";
	const char *wd = git_repository_workdir(repo), *from = wd ? wd : common;
	size_t len = strlen(from);
	orch_buf buf = {0};

	while (len > 1 && from[len - 1] == '/')
		len--;
	{
		size_t start = len;
		while (start > 0 && from[start - 1] != '/')
			start--;
		snprintf(name, sizeof(name), "%.*s", (int)(len - start),
		         from + start);
		for (char *p = name; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') ||
			      (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '-' ||
			      *p == '_' || *p == '.'))
				*p = '_';
		if (!name[0] || name[0] == '.')
			name[0] = '_';
	}
	git_odb_hash(&id, common, strlen(common), GIT_OBJECT_BLOB);
	git_oid_tostr(hex, sizeof(hex), &id);
	orch_buf_printf(&buf, "%s-%.8s", name, hex);
	return orch_buf_detach(&buf);
}

static int ssh_open(orch_worker **out, const orch_worker_config *config,
                    git_repository *repo, const char *token, int jobs)
{
	ssh_worker *sw = orch_calloc(1, sizeof(*sw));
	git_signature *sig = NULL;
	int error;

	(void)jobs; /* -j sets this machine's slots, not a remote one's */
	*out = NULL;
	orch_worker_base_init(&sw->parent, &ssh_ops, config);
	sw->wake[0] = sw->wake[1] = -1;
	pthread_mutex_init(&sw->mu, NULL);
	pthread_cond_init(&sw->cond, NULL);
	if ((error = orch_ssh_target_resolve(&sw->target, config, NULL)) < 0)
		goto done;
	sw->workdir = orch_strdup(config->workdir ? config->workdir
	                                          : "~/.cache/git-orchestrate");
	sw->remote = config->remote ? orch_strdup(config->remote) : NULL;
	sw->env_file = config->env_file ? orch_strdup(config->env_file) : NULL;
	sw->key = project_key(repo);
	sw->repo_path = orch_strdup(git_repository_commondir(repo));
	sw->token = orch_strdup(token ? token : "");
	sw->repo = repo;
	if ((error = orch_signature_default(&sig, repo)) < 0)
		goto done;
	snprintf(sw->sig_name, sizeof(sw->sig_name), "%s", sig->name);
	snprintf(sw->sig_email, sizeof(sw->sig_email), "%s", sig->email);
	git_signature_free(sig);
	if (pipe2(sw->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		error = orch_error_os("cannot create a pipe");
		goto done;
	}
	if (pthread_create(&sw->thread, NULL, worker_thread, sw) != 0) {
		error = orch_error_set("worker '%s': cannot start its thread",
		                       config->name);
		goto done;
	}
	sw->thread_started = 1;
	*out = &sw->parent;
	sw = NULL;
done:
	if (sw)
		ssh_close(&sw->parent);
	return error;
}

/* For `workers check`: connect once and describe the worker. */
static int check_worker(orch_ssh_check_report *out,
                        const orch_worker_config *config, git_repository *repo)
{
	ssh_worker sw;
	orch_ssh_exec ex;
	const char *words[2];
	char *cmd = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	memset(&sw, 0, sizeof(sw));
	out->free_kb = -1;
	sw.parent.name = config->name;
	if ((error = orch_ssh_target_resolve(&sw.target, config, NULL)) < 0)
		return error;
	snprintf(out->address, sizeof(out->address), "%s@%s:%d", sw.target.user,
	         sw.target.host, sw.target.port);
	sw.workdir =
	    config->workdir ? config->workdir : "~/.cache/git-orchestrate";
	sw.key = project_key(repo);
	if ((error = orch_ssh_connect(&sw.ssh, &sw.target, config->name,
	                              CONNECT_TIMEOUT_MS)) < 0)
		goto done;
	out->ssh = *orch_ssh_get_info(sw.ssh);
	out->connected = 1;
	words[0] = sw.workdir;
	words[1] = sw.key;
	cmd = remote_command(hello_script, words, 2);
	orch_ssh_exec_init(&ex, cmd, NULL, 0);
	error = orch_ssh_exec_run(sw.ssh, &ex, 30000);
	if (error == 0) {
		const char *line = ex.out.ptr ? ex.out.ptr : "";
		while (*line) {
			const char *end = strchr(line, '\n');
			size_t len = end ? (size_t)(end - line) : strlen(line);
			if (len > 2 && line[0] == 'G')
				snprintf(out->git_version,
				         sizeof(out->git_version), "%.*s",
				         (int)len - 2, line + 2);
			else if (len > 2 && line[0] == 'H')
				snprintf(out->sh, sizeof(out->sh), "%.*s",
				         (int)len - 2, line + 2);
			else if (len > 2 && line[0] == 'D')
				out->free_kb = atoll(line + 2);
			line = end ? end + 1 : line + len;
		}
		error = parse_hello(&sw, ex.out.ptr ? ex.out.ptr : "");
		if (sw.top)
			snprintf(out->workdir, sizeof(out->workdir), "%s",
			         sw.top);
	}
	orch_ssh_exec_clear(&ex);
done:
	free(cmd);
	free(sw.top);
	free(sw.known.ids);
	free(sw.key);
	orch_ssh_free(sw.ssh);
	orch_ssh_target_clear(&sw.target);
	return error;
}

/* `workers check` of an SSH worker: what check_worker found, as facts. */
static int ssh_check(orch_worker_check_report *out,
                     const orch_worker_config *config, git_repository *repo)
{
	orch_ssh_check_report rep;
	orch_buf shown = {0};
	int error;

	memset(out, 0, sizeof(*out));
	memset(&rep, 0, sizeof(rep));
	error = check_worker(&rep, config, repo);
	out->summary = orch_strdup(rep.address);
	orch_worker_check_text(out, "address", NULL, rep.address, NULL);
	orch_worker_check_bool(out, "reachable",
	                       rep.connected || rep.ssh.fingerprint[0]);
	orch_worker_check_bool(out, "authenticated", rep.connected);
	if (rep.ssh.fingerprint[0]) {
		orch_buf_printf(&shown, "%s %s%s", rep.ssh.key_type,
		                rep.ssh.fingerprint,
		                rep.ssh.key_added ? " (new: recorded)"
		                : error == 0 || rep.connected ? " (known)"
		                                              : "");
		orch_worker_check_text(out, "host_key_type", NULL,
		                       rep.ssh.key_type, NULL);
		orch_worker_check_text(out, "host_key", "host key",
		                       rep.ssh.fingerprint, shown.ptr);
		orch_worker_check_bool(out, "host_key_added",
		                       rep.ssh.key_added);
	}
	if (rep.connected)
		orch_worker_check_text(out, "auth", "auth", rep.ssh.auth, NULL);
	if (rep.sh[0])
		orch_worker_check_text(out, "sh", "sh", rep.sh, NULL);
	if (rep.git_version[0])
		orch_worker_check_text(out, "git", "git", rep.git_version,
		                       NULL);
	if (rep.workdir[0]) {
		orch_buf_clear(&shown);
		orch_buf_puts(&shown, rep.workdir);
		if (rep.free_kb >= 0)
			orch_buf_printf(&shown, " (%.1f GiB free)",
			                (double)rep.free_kb /
			                    (1024.0 * 1024.0));
		orch_worker_check_text(out, "workdir", "workdir", rep.workdir,
		                       shown.ptr);
	}
	if (rep.free_kb >= 0)
		orch_worker_check_number(out, "free_kb", (double)rep.free_kb);
	orch_buf_free(&shown);
	return error;
}

static int ssh_default_slots(void)
{
	return 1;
}

static void ssh_address(orch_buf *out, const orch_worker_config *config)
{
	if (config->user)
		orch_buf_printf(out, "%s@", config->user);
	orch_buf_puts(out, config->host);
	if (config->port > 0)
		orch_buf_printf(out, ":%d", config->port);
}

/*
 * Run `script` with `words` on the worker `config` describes, over a
 * connection of its own (`clean` opens no worker): *out gets its answer
 * (caller clears). An error when the worker cannot be reached or the
 * script fails, saying `what` could not be done.
 */
static int run_once(orch_ssh_exec *out, const orch_worker_config *config,
                    const char *script, const char **words, size_t nwords,
                    const char *what)
{
	orch_ssh_target target;
	orch_ssh *ssh = NULL;
	char *cmd = NULL;
	int error;

	memset(&target, 0, sizeof(target));
	orch_ssh_exec_init(out, "", NULL, 0);
	if ((error = orch_ssh_target_resolve(&target, config, NULL)) < 0)
		goto done;
	if ((error = orch_ssh_connect(&ssh, &target, config->name,
	                              CONNECT_TIMEOUT_MS)) < 0) {
		orch_error_hint("bring worker '%s' back (see 'git orchestrate "
		                "workers check'), then run 'git orchestrate "
		                "clean' again",
		                config->name);
		goto done;
	}
	cmd = remote_command(script, words, nwords);
	orch_ssh_exec_clear(out);
	orch_ssh_exec_init(out, cmd, NULL, 0);
	if ((error = orch_ssh_exec_run(ssh, out, 120000)) < 0) {
		char why[512];
		snprintf(why, sizeof(why), "%s", orch_error_message());
		error = orch_error_set("worker '%s': cannot %s: %s",
		                       config->name, what, why);
		goto done;
	}
	if (out->exit_status != 0) {
		size_t len = out->err.len;
		while (len && (out->err.ptr[len - 1] == '\n' ||
		               out->err.ptr[len - 1] == '\r'))
			len--;
		error = orch_error_set("worker '%s': cannot %s: %.*s",
		                       config->name, what, len ? (int)len : 24,
		                       len ? out->err.ptr
		                           : "the script failed there");
	}
done:
	free(cmd);
	orch_ssh_free(ssh);
	orch_ssh_target_clear(&target);
	return error;
}

/*
 * Remove a slot kept on an SSH worker, given where finish said it is
 * ("<worker>:<top>/slots/<n>"): its worktree and the mark that keeps it.
 * A slot no longer kept is left alone (0).
 */
static int ssh_remove_kept(const orch_worker_config *config,
                           git_repository *repo, const char *location)
{
	size_t name_len = strlen(config->name);
	const char *path = location + name_len + 1, *slash, *digits;
	orch_ssh_exec ex;
	const char *words[2];
	char *top = NULL, *what = NULL;
	int error;

	(void)repo;
	slash = strncmp(location, config->name, name_len) ||
	                location[name_len] != ':'
	            ? NULL
	            : strrchr(path, '/');
	digits = slash ? slash + 1 : NULL;
	if (!slash || slash - path < 7 || strncmp(slash - 6, "/slots", 6) ||
	    !*digits || strspn(digits, "0123456789") != strlen(digits) ||
	    strlen(digits) > 9) {
		orch_error_set("'%s' is not a worktree of git orchestrate on "
		               "worker '%s'",
		               location, config->name);
		return ORCH_ERROR;
	}
	top = orch_strndup(path, (size_t)(slash - 6 - path));
	words[0] = top;
	words[1] = digits;
	what = joinf("remove the worktree '", path, "'");
	error = run_once(&ex, config, remove_kept_script, words, 2, what);
	orch_ssh_exec_clear(&ex);
	free(what);
	free(top);
	return error;
}

/*
 * The slots kept on an SSH worker for failed attempts of `plan`, as
 * remove_kept takes them, read from the worker's slots directory (so a slot
 * the plan's state forgot is found too). Slots kept before their mark named
 * the attempt are not found here; the state names them.
 */
static int ssh_list_kept(orch_strvec *out, const orch_worker_config *config,
                         git_repository *repo, const char *plan)
{
	orch_ssh_exec ex;
	const char *words[3], *line, *end;
	char *key = project_key(repo);
	int error;

	words[0] =
	    config->workdir ? config->workdir : "~/.cache/git-orchestrate";
	words[1] = key;
	words[2] = plan;
	error = run_once(&ex, config, list_kept_script, words, 3,
	                 "list the worktrees kept there");
	line = ex.out.ptr ? ex.out.ptr : "";
	end = line + ex.out.len;
	while (error == 0 && line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t len = nl ? (size_t)(nl - line) : (size_t)(end - line);
		if (len) {
			orch_buf buf = {0};
			orch_buf_printf(&buf, "%s:%.*s", config->name, (int)len,
			                line);
			orch_strvec_push_take(out, orch_buf_detach(&buf));
		}
		line = nl ? nl + 1 : end;
	}
	orch_ssh_exec_clear(&ex);
	free(key);
	return error;
}

const orch_worker_kind orch_worker_ssh_kind = {
    .name = "ssh",
    .open = ssh_open,
    .default_slots = ssh_default_slots,
    .address = ssh_address,
    .check = ssh_check,
    .remove_kept = ssh_remove_kept,
    .list_kept = ssh_list_kept,
};
