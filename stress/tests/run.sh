#!/usr/bin/env bash
# stress/tests/run.sh — ctest stress.<profile>: one galloc-stress run that must be clean
# (exit 0) and whose --json report must prove that every phase did work (check_json.py:
# every thread above the floor in every phase, phases adding up, for mixed every profile).
#
#   run.sh GALLOC_STRESS PROFILE SECONDS WORKDIR [more galloc-stress options]
#
# Exit: 0 pass, 1 fail (the command that reproduces it is printed).
set -u
stress=$1 prof=$2 secs=$3 dir=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
json=$dir/stress-$prof.json
rm -f "$json"
cmd=("$stress" --profile "$prof" --threads 2 --seconds "$secs" --seed 1 -q --repro "$dir/stress-$prof.ops" --json "$json" "$@")
"${cmd[@]}"
rc=$?
if [ "$rc" != 0 ]; then
  echo "FAIL: galloc-stress exited $rc (0 clean, 1 finding, 2 usage); reproduce: ${cmd[*]}"
  exit 1
fi
# The system python first, without site (-S: check_json.py needs only the standard library):
# a version-manager shim in PATH (pyenv) costs ~0.5 s a start, which nine tests pay per push.
py=$(command -v /usr/bin/python3 || command -v python3) ||
  { echo "FAIL: python3 is needed to read the JSON report (ci/setup.sh installs it)"; exit 1; }
extra=()
[ "$prof" = mixed ] && extra+=(--all-profiles)
"$py" -S "$here/check_json.py" "$json" "${extra[@]}" --command "${cmd[*]}" || { echo "FAIL: the report does not prove the work"; exit 1; }
echo PASS
