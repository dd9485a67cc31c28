# Shared by the compare tests (sourced): expects `tandem SUBCOMMAND args...`
# to refuse bad input with exit status 2 and exactly one line on stderr.
# Needs $tandem, $tmp and fail() from the sourcing script.
expect_usage_error() {  # subcommand description args...
  local sub=$1 what=$2
  shift 2
  "$tandem" "$sub" "$@" >"$tmp/out" 2>"$tmp/err"
  local status=$? lines
  lines=$(wc -l <"$tmp/err")
  if [ $status -ne 2 ] || [ "$lines" -ne 1 ]; then
    fail "$what: exit status $status and $lines stderr lines, expected 2 and 1"
    cat "$tmp/err" >&2
  else
    echo "$sub: $what: $(cat "$tmp/err")"
  fi
}
