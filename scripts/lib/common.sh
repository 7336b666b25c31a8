# Shared by every entry script (sourced, not executed): no script exits non-zero without saying
# which command failed, on which line, with which status.
#
# The ERR trap fires where `set -e` would end the script (never inside `if`, `while`, `&&`/`||`),
# and `set -E` passes it to functions, command substitutions and subshells.
set -E
trap 'coffer_on_err $? "$BASH_COMMAND" "${BASH_SOURCE[0]}" "$LINENO"' ERR

coffer_on_err() {
  local rc=$1 cmd=$2 file=$3 line=$4
  # A subshell reports once; its parent sees only the subshell's status.
  [[ -n ${COFFER_ERR_REPORTED:-} && ${COFFER_ERR_REPORTED} == "$BASHPID" ]] && return
  export COFFER_ERR_REPORTED=$BASHPID
  printf '%s: line %s: command failed with status %s: %s\n' "${file#"${COFFER_ROOT:-}"/}" "$line" "$rc" "$cmd" >&2
}
