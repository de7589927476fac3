# SPDX-License-Identifier: Apache-2.0
# bash completion for rein. Installed as
# share/bash-completion/completions/rein; or `source` this file.
# The candidates come from the binary itself (`rein __complete WORD...`,
# read from each command's option table), so this script never lists an
# option: it only turns "@file" / "@dir" into path completion.
_rein() {
  local cur=${COMP_WORDS[COMP_CWORD]} rein=${COMP_WORDS[0]} line out
  [[ $rein == "~"* ]] && rein=rein
  [[ $cur == "=" ]] && cur=
  out=$("$rein" __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) ||
    return 0
  COMPREPLY=()
  while IFS= read -r line; do
    case $line in
      @file)
        compopt -o filenames 2>/dev/null
        mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -f -- "$cur") ;;
      @dir)
        compopt -o filenames 2>/dev/null
        mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -d -- "$cur") ;;
      ?*) COMPREPLY+=("$line") ;;
    esac
  done <<<"$out"
  return 0
}
complete -F _rein rein
