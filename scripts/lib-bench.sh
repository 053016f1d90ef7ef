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

# sign_in_officers WORK PORT: signs in the bench-serve officer accounts listed in
# WORK/officers.json at the server on PORT, and writes their tokens with the businesses
# of their grids as Lua tables for wrk (WORK/data.lua).
sign_in_officers() {
  python3 - "$1" "$2" <<'PY'
import json, sys, urllib.request
work, port = sys.argv[1], sys.argv[2]
officers = json.load(open(f"{work}/officers.json"))
for o in officers:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/login",
        data=json.dumps({"username": "u" + o["id"], "password": "bench password"}).encode(),
        headers={"content-type": "application/json"})
    o["token"] = json.load(urllib.request.urlopen(req))["token"]
json.dump(officers, open(f"{work}/tokens.json", "w"))
# Lua tables for wrk.
with open(f"{work}/data.lua", "w") as f:
    f.write("officers = {\n")
    for o in officers:
        f.write("  {id=%s, partner=%s, token=%s, businesses={%s}},\n" % (
            json.dumps(o["id"]), json.dumps(o["partner"]), json.dumps(o["token"]),
            ",".join(json.dumps(b) for b in o["businesses"])))
    f.write("}\n")
PY
}
