#!/usr/bin/env bash
# Removes what an integration test run that was killed before its cleanup
# left behind: mounts, volume groups and loop devices whose backing files
# live in a toposuite-it-* directory (internal/testutil.DirPrefix). It touches
# nothing else, so it is safe on a machine with other loop devices and VGs.
set -u
tmp=${TMPDIR:-/tmp}
found=0
while read -r target; do
  [ -n "$target" ] || continue
  umount -l "$target" 2>/dev/null && found=1
done < <(findmnt -rn -o TARGET 2>/dev/null | grep -E "^$tmp/toposuite-it-" | sort -r)
# Loop devices over the test's loop devices (lvmd's development activation)
# go first, or the ones under them stay busy.
ours=$(losetup -a 2>/dev/null | awk -F: -v t="$tmp/toposuite-it-" 'index($0, "(" t) {print $1}')
for under in $ours; do
  for over in $(losetup -n -O NAME --associated "$under" 2>/dev/null); do
    losetup -d "$over" && found=1 && echo "detached leftover $over (over $under)"
  done
done
while IFS=: read -r dev rest; do
  [ -n "$dev" ] || continue
  file=$(losetup -n -O BACK-FILE "$dev" 2>/dev/null)
  case "$file" in
    "$tmp"/toposuite-it-*)
      # A VG on it (in a private LVM config that no longer exists) is
      # forgotten with the device; wipe the label so nothing reuses it.
      wipefs -a -q "$dev" 2>/dev/null
      losetup -d "$dev" && found=1 && echo "detached leftover $dev ($file)";;
  esac
done < <(losetup -a 2>/dev/null)
rm -rf "$tmp"/toposuite-it-* 2>/dev/null
[ $found = 0 ] || echo "test leftovers cleaned"
exit 0
