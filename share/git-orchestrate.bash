# bash completion for git orchestrate (git's completion calls _git_orchestrate)
_git_orchestrate ()
{
	local subcommands="init plan plans run status log forget merge rollback workers cancel retry clean sync hook hooks"
	local subcommand
	subcommand="$(__git_find_on_cmdline "$subcommands")"
	if [ -z "$subcommand" ]; then
		__gitcomp "$subcommands --config"
		return
	fi
	local plans
	plans="$(git for-each-ref --format='%(refname:strip=3)' refs/orchestrate/plans 2>/dev/null | tr '\n' ' ')"
	case "$subcommand,$cur" in
	plan,--*) __gitcomp "--prompts --name --dry-run --simulate --json --config" ;;
	plans,*) __gitcomp "--json --config" ;;
	run,--*) __gitcomp "--jobs= --worker= --merge --remote= --wait-workers= --json --config" ;;
	status,--format=*) __gitcomp "prometheus" "" "${cur##--format=}" ;;
	status,--*) __gitcomp "--json --watch --remote= --format= --config" ;;
	merge,--*) __gitcomp "--analyze --verify= --into= --squash --push --json --config" ;;
	rollback,--*) __gitcomp "--revert --json --config" ;;
	workers,*) __gitcomp "check --json --config" ;;
	log,--*) __gitcomp "--config" ;;
	sync,*) __gitcomp "$(git remote 2>/dev/null)" ;;
	hook,*) __gitcomp "post-receive pre-receive" ;;
	hooks,*) __gitcomp "install" ;;
	log,*|cancel,*|retry,*)
		# PLAN, then one of its tasks
		local plan word
		for word in "${words[@]:0:cword}"; do
			[ -n "$word" ] || continue
			case " $plans " in *" $word "*) plan=$word ;; esac
		done
		if [ -n "$plan" ]; then
			__gitcomp "$(git ls-tree -r --name-only "refs/orchestrate/plans/$plan" -- tasks 2>/dev/null |
				sed -e 's|.*/||' -e 's|\.json$||')"
		else
			__gitcomp "$plans"
		fi
		;;
	*) __gitcomp "$plans" ;;
	esac
}
