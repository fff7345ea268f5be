#!/usr/bin/env bash
# test_completion.sh TOKENSEAL COMPLETION_FILE: the bash completion the
# packages install (cli/completion/tokenseal.bash) registers for tokenseal,
# offers every verb `tokenseal --help` lists and every option each verb's
# --help lists, the keystore operations, and user names for --user from
# getent for root only (anyone else: their own name).
set -uo pipefail
cli=$1 file=$2
fail=0
bad() { echo "FAIL: $*"; fail=1; }
command -v bash >/dev/null || { echo "SKIPPED: no bash"; exit 77; }

# the words offered for the command line "$@" (the last word is completed)
complete_words() {
	bash --norc --noprofile -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_tokenseal
		printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$file" "$@"
}
has() { # has WORD LIST...
	local w=$1; shift
	grep -qx -- "$w" <<<"$*"
}

reg=$(bash --norc --noprofile -c 'source "$1" && complete -p tokenseal' _ "$file")
[ "$reg" = "complete -F _tokenseal tokenseal" ] || bad "not registered: '$reg'"

# every verb of the overview, and nothing else
want=$("$cli" --help | awk '/^verbs:/ { on = 1; next } on && /^  [a-z]/ { print $1 } /^$/ && on { on = 0 }' | sort)
[ -n "$want" ] || bad "no verbs in tokenseal --help"
got=$(complete_words tokenseal "" | grep -v '^-')
[ "$want" = "$got" ] || bad "verbs: want
$want
got
$got"
[ "$(complete_words tokenseal st)" = status ] || bad "'st' does not complete to status"

# every option a verb's --help names is offered after the verb
for v in $want; do
	[ "$v" = help ] && continue
	opts=$("$cli" "$v" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u)
	offered=$(complete_words tokenseal "$v" --)
	for o in $opts; do
		has "$o" "$offered" || bad "$v: $o is not offered (offered: $(echo $offered))"
	done
done
ops=$(complete_words tokenseal keystore "")
for o in init verify rotate-key forget; do
	has "$o" "$ops" || bad "keystore: $o is not offered"
done

# --user and keystore forget: names from getent, for root only
if [ "$(id -u)" -eq 0 ]; then
	names=$(complete_words tokenseal status --user "")
	[ "$names" = "$(getent passwd | cut -d: -f1 | sort)" ] ||
		bad "root's --user does not offer getent's names"
	has root "$(complete_words tokenseal keystore forget ro)" ||
		bad "keystore forget does not offer user names"
	if id alice >/dev/null 2>&1 && command -v setpriv >/dev/null; then
		mine=$(setpriv --reuid alice --regid alice --clear-groups \
			bash --norc --noprofile -c '
				source "$1"; COMP_WORDS=(tokenseal token --user ""); COMP_CWORD=3
				_tokenseal; printf "%s\n" "${COMPREPLY[@]}"' _ "$file")
		[ "$mine" = alice ] || bad "a user is offered other names than their own: $mine"
	else
		echo "note: no user alice or no setpriv: the non-root case was not run"
	fi
else
	[ "$(complete_words tokenseal status --user "")" = "$(id -un)" ] ||
		bad "a user is offered other names than their own"
fi

[ "$fail" = 0 ] && echo "ok: bash completion"
exit "$fail"
