# bash completion for git orchestrate (git's completion calls _git_orchestrate)
_git_orchestrate ()
{
	local subcommands="init plan run status log merge rollback workers cancel retry clean sync hook hooks"
	local subcommand
	subcommand="$(__git_find_on_cmdline "$subcommands")"
	if [ -z "$subcommand" ]; then
		__gitcomp "$subcommands --config"
		return
	fi
	case "$subcommand,$cur" in
	plan,--*) __gitcomp "--prompts --name --dry-run --simulate --json" ;;
	run,--*) __gitcomp "--worker --merge --remote --json" ;;
	status,--*) __gitcomp "--json --watch --remote" ;;
	sync,*) __gitcomp "$(git remote 2>/dev/null)" ;;
	merge,--*) __gitcomp "--analyze --verify --into --push --json --squash" ;;
	rollback,--*) __gitcomp "--revert" ;;
	workers,*) __gitcomp "check --json" ;;
	hook,*) __gitcomp "post-receive pre-receive" ;;
	hooks,*) __gitcomp "install" ;;
	*)
		local plans
		plans="$(git for-each-ref --format='%(refname:strip=3)' refs/orchestrate/plans 2>/dev/null)"
		__gitcomp "$plans"
		;;
	esac
}
