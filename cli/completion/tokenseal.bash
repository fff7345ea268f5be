# bash completion for tokenseal(1)                         -*- shell-script -*-
# Installed as /usr/share/bash-completion/completions/tokenseal.
# Verbs, their options, keystore operations; user names for --user and
# `keystore forget` from getent, offered to root only (anyone else can act
# only for themselves, so they get their own name).

_tokenseal_users()
{
	if [ "${EUID:-$(id -u)}" -eq 0 ]; then
		getent passwd 2>/dev/null | cut -d: -f1
	else
		id -un 2>/dev/null
	fi
}

_tokenseal()
{
	local cur prev verb i opts
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	local verbs="status token login refresh logout doctor keystore version help"

	verb=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-*) ;;
		*) verb=${COMP_WORDS[i]}; break ;;
		esac
	done

	if [ -z "$verb" ]; then
		COMPREPLY=($(compgen -W "$verbs --help --version" -- "$cur"))
		return 0
	fi

	if [ "$prev" = --user ]; then
		COMPREPLY=($(compgen -W "$(_tokenseal_users)" -- "$cur"))
		return 0
	fi

	case $verb in
	status) opts="--json --user --all --help" ;;
	token) opts="--json --exec-credential --user --help" ;;
	login)
		opts="--device --password --refresh-token-stdin --client-credentials --json --user --help"
		;;
	refresh) opts="--force --json --user --help" ;;
	logout) opts="--no-revoke --json --user --help" ;;
	doctor) opts="--json --help" ;;
	version) opts="--json --help" ;;
	keystore)
		local op= j
		for ((j = i + 1; j < COMP_CWORD; j++)); do
			case ${COMP_WORDS[j]} in
			-*) ;;
			*) op=${COMP_WORDS[j]}; break ;;
			esac
		done
		if [ -z "$op" ]; then
			opts="init verify rotate-key forget --json --help"
		elif [ "$op" = forget ] && [ "$prev" = forget ]; then
			COMPREPLY=($(compgen -W "$(_tokenseal_users)" -- "$cur"))
			return 0
		else
			opts="--json"
		fi
		;;
	help) opts="$verbs" ;;
	*) opts= ;;
	esac
	COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	return 0
}
complete -F _tokenseal tokenseal
