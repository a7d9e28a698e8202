# bash completion for git orchestrate (git's completion calls _git_orchestrate)
_git_orchestrate ()
{
	local subcommands="init plan plans run status log forget merge rollback workers set cancel retry clean sync share hook hooks"
	local subcommand
	subcommand="$(__git_find_on_cmdline "$subcommands")"
	if [ -z "$subcommand" ]; then
		__gitcomp "$subcommands --config"
		return
	fi
	local plans
	plans="$(git for-each-ref --format='%(refname:strip=3)' refs/orchestrate/plans 2>/dev/null | tr '\n' ' ')"
	case "$subcommand,$cur" in
	plan,--*) __gitcomp "--prompts --from-json --name --dry-run --simulate --json --config" ;;
	plans,*) __gitcomp "--json --config" ;;
	run,--*) __gitcomp "--jobs= --worker= --merge --remote= --wait-workers= --json --config" ;;
	status,--format=*) __gitcomp "prometheus" "" "${cur##--format=}" ;;
	status,--*) __gitcomp "--json --watch --remote= --format= --config" ;;
	merge,--*) __gitcomp "--analyze --verify= --into= --squash --push --rerun --json --config" ;;
	rollback,--*) __gitcomp "--revert --json --config" ;;
	workers,*) __gitcomp "check --json --config" ;;
	log,--*) __gitcomp "--shared --config" ;;
	share,*) ;;
	sync,*) __gitcomp "$(git remote 2>/dev/null)" ;;
	hook,*) __gitcomp "post-receive pre-receive" ;;
	hooks,*) __gitcomp "install" ;;
	set,priority=*) __gitcomp "low medium high critical" "" "${cur##priority=}" ;;
	set,*=*) ;;
	log,*|cancel,*|retry,*|set,*)
		# PLAN, then one of its tasks (set: then KEY=VALUE)
		local plan word task
		for word in "${words[@]:0:cword}"; do
			[ -n "$word" ] || continue
			if [ -n "$plan" ] && [ "$word" != "$plan" ]; then
				task=$word
			fi
			case " $plans " in *" $word "*) plan=$word ;; esac
		done
		if [ "$subcommand" = set ] && [ -n "$task" ]; then
			__gitcomp "priority= timeout= retries= needs="
		elif [ -n "$plan" ]; then
			__gitcomp "$(git ls-tree -r --name-only "refs/orchestrate/plans/$plan" -- tasks 2>/dev/null |
				sed -e 's|.*/||' -e 's|\.json$||')"
		else
			__gitcomp "$plans"
		fi
		;;
	*) __gitcomp "$plans" ;;
	esac
}
