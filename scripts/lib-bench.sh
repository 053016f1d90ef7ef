#!/usr/bin/env bash
# Helpers shared by the bench scripts: the machine line and writing a section of
# docs/PERFORMANCE.md between markers.

machine_line() {
  local cpu mem
  cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
  mem=$(free -g 2>/dev/null | awk '/^Mem:/{print $2" GiB"}')
  echo "${cpu:-unknown CPU}, $(nproc) cores, ${mem:-? GiB} RAM, $(uname -sr), rustc $(rustc --version | cut -d' ' -f2)"
}

# write_section NAME FILE: replaces <!-- NAME:begin --> … <!-- NAME:end --> in
# docs/PERFORMANCE.md with the contents of FILE (appends the section if it is new).
write_section() {
  local name=$1 body=$2 doc=docs/PERFORMANCE.md
  [ -f "$doc" ] || printf '# Performance\n\nFigures written by the scripts named in each section; every number is a median of repeated runs on the machine named.\n' > "$doc"
  python3 - "$doc" "$name" "$body" <<'PY'
import sys, re
doc, name, body = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().rstrip() + "\n"
text = open(doc).read()
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
block = f"{begin}\n{body}{end}"
if begin in text and end in text:
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
else:
    text = text.rstrip() + "\n\n" + block + "\n"
open(doc, "w").write(text)
PY
}
