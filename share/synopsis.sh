#!/bin/sh
# Print a C header with each command's synopsis, read from the SYNOPSIS
# section of the man page (its one source): SYNOPSIS_<COMMAND> for
# `git orchestrate <command>`, several lines of one command joined with
# "\n   or: ". Usage: synopsis.sh MANPAGE >synopsis.h
set -e
[ -f "$1" ] || { echo "synopsis.sh: no man page '$1'" >&2; exit 1; }
sed -n '/^\.SH SYNOPSIS/,/^\.fi/p' "$1" |
	sed -e '/^\./d' -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' |
	awk '
	/^git orchestrate [a-z]/ {
		name = toupper($3); gsub(/-/, "_", name)
		gsub(/\\/, "\\\\"); gsub(/"/, "\\\"")
		if (name in text) text[name] = text[name] "\\n   or: " $0
		else { order[n++] = name; text[name] = $0 }
	}
	END {
		if (n == 0) { print "synopsis.sh: no synopsis lines" > "/dev/stderr"; exit 1 }
		print "/* Generated from the man page by share/synopsis.sh: do not edit. */"
		for (i = 0; i < n; i++)
			printf "#define SYNOPSIS_%s \"%s\"\n", order[i], text[order[i]]
	}'
