#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-apply: policies applied with netpolctl take effect on real traffic:
# apply (a policy and a preset), unbind, policy update, allow/deny/
# remove-rule, and `netpolctl test` agrees with what the kernel does.
. "$(dirname "$0")/lib.sh"

start_netpold || { not_ok "netpold starts"; it_finish; }
ok "netpold starts and answers status"

mk_cgroup app
mk_cgroup other
mk_cgroup srv
start_listener srv 8080 || not_ok "TCP listener in the netns"

WEB=$IT_TMP/web.json
write_policy "$WEB" '{"name": "web", "default": "deny", "rules": [
  {"action": "allow", "to": ["203.0.113.0/24"], "protocol": "udp", "ports": [53]},
  {"action": "allow", "to": ["203.0.113.10"], "protocol": "tcp", "ports": [8080]}]}'
WEB2=$IT_TMP/web2.json
write_policy "$WEB2" '{"name": "web", "default": "deny", "rules": [
  {"action": "allow", "to": ["198.51.100.0/24"], "protocol": "udp", "ports": [53]}]}'

APP=$(target app)

# ---- before any binding ----
expect_probe "unbound cgroup: udp 198.51.100.5:53 goes through" allowed app udp 198.51.100.5 53

# ---- policy add, apply ----
check "policy add web" ctl policy add "$WEB"
names=$(ctl --json policy list | jget '" ".join(p["name"] for p in j["policies"])')
case " $names " in *" web "*) ok "policy list shows web" ;; *) not_ok "policy list shows web (got: $names)" ;; esac
check "apply web to $APP" ctl apply "$APP" web
bound=$(ctl --json bindings | jget '[b["policy"] for b in j["bindings"] if b["target"] == sys.argv[2]]' "$APP")
check_eq "bindings shows $APP -> web" '["web"]' "$bound"

expect_probe "web: udp 203.0.113.5:53 allowed (rule 0)" allowed app udp 203.0.113.5 53
expect_probe "web: udp-sendto 203.0.113.5:53 allowed" allowed app udp-sendto 203.0.113.5 53
expect_probe "web: udp 198.51.100.5:53 denied (default)" denied app udp 198.51.100.5 53
expect_probe "web: udp-sendto 198.51.100.5:53 denied" denied app udp-sendto 198.51.100.5 53
expect_probe "web: udp 203.0.113.5:54 denied (port)" denied app udp 203.0.113.5 54
expect_probe "web: tcp 203.0.113.10:8080 connects (rule 1)" allowed app tcp 203.0.113.10 8080
expect_probe "web: tcp 203.0.113.11:8080 denied" denied app tcp 203.0.113.11 8080
expect_probe "web: udp [2001:db8::5]:53 denied" denied app udp 2001:db8::5 53
expect_probe "web: tcp 127.0.0.1:8080 denied (no loopback rule)" denied app tcp 127.0.0.1 8080
expect_probe "unbound sibling cgroup still free" allowed other udp 198.51.100.5 53

# ---- a preset ----
check "apply the deny-all preset to $(target other)" ctl apply "$(target other)" deny-all
expect_probe "deny-all: udp 203.0.113.5:53 denied" denied other udp 203.0.113.5 53
expect_probe "deny-all: tcp [::1]:8080 denied" denied other tcp ::1 8080
check "re-apply allow-all to $(target other) (replaces the binding)" ctl apply "$(target other)" allow-all
expect_probe "allow-all: udp 203.0.113.5:53 allowed" allowed other udp 203.0.113.5 53
check "unbind $(target other)" ctl unbind "$(target other)"

# ---- test agrees with traffic ----
# test_matches POLICY-OR-TARGET PROTO ADDR PORT
test_matches() {
	local what=$1 proto=$2 addr=$3 port=$4 dest verdict out rc actual
	case $addr in *:*) dest="[$addr]:$port/${proto%-sendto}" ;; *) dest="$addr:$port/${proto%-sendto}" ;; esac
	verdict=$(ctl --json test "$what" "$dest" | jget 'j["verdict"]')
	out=$(probe app "$proto" "$addr" "$port" 2>&1)
	rc=$?
	case $rc in 0) actual=allow ;; 1) actual=deny ;; *) actual="error: $out" ;; esac
	check_eq "test $what $dest says what the kernel does" "$actual" "$verdict"
}
for what in web "$APP"; do
	test_matches "$what" udp 203.0.113.5 53
	test_matches "$what" udp 203.0.113.200 53
	test_matches "$what" udp 198.51.100.5 53
	test_matches "$what" udp 203.0.113.5 5353
	test_matches "$what" tcp 203.0.113.10 8080
	test_matches "$what" tcp 203.0.113.11 8080
	test_matches "$what" udp 2001:db8::5 53
done
out=$(ctl --json test web 203.0.113.10:8080/tcp)
check_eq "test reports the deciding rule index" 1 "$(echo "$out" | jget 'j["rule_index"]')"
check_eq "test reports the policy" web "$(echo "$out" | jget 'j["policy"]')"
check_eq "test reports null rule for the default" null "$(ctl --json test web 198.51.100.1:1/udp | jget 'j["rule_index"]')"
out=$(ctl test web 203.0.113.5:53/udp)
case $out in allow*) ok "human test output starts with the verdict" ;; *) not_ok "human test output: $out" ;; esac

# ---- allow, deny, remove-rule on live traffic ----
idx=$(ctl --json allow web '[2001:db8::/32]:53/udp' | jget 'j["index"]')
check_eq "allow appends rule 2" 2 "$idx"
expect_probe "after allow: udp [2001:db8::5]:53 allowed" allowed app udp 2001:db8::5 53
idx=$(ctl --json deny web 203.0.113.7:53/udp | jget 'j["index"]')
check_eq "deny appends rule 3" 3 "$idx"
expect_probe "after deny: udp 203.0.113.7:53 denied (deny wins)" denied app udp 203.0.113.7 53
expect_probe "after deny: udp 203.0.113.5:53 still allowed" allowed app udp 203.0.113.5 53
check_eq "test names the deny rule" 3 "$(ctl --json test web 203.0.113.7:53/udp | jget 'j["rule_index"]')"
check "remove-rule web 3" ctl remove-rule web 3
expect_probe "after remove-rule: udp 203.0.113.7:53 allowed again" allowed app udp 203.0.113.7 53
check_eq "policy show: 3 rules left" 3 "$(ctl --json policy show web | jget 'len(j["policy"]["rules"])')"
ctl_fails "remove-rule of a rule that is not there" "rule|index|NoSuchRule" remove-rule web 17
ctl_fails "allow with a port out of range names the field" "dest|port" allow web 203.0.113.1:70000/udp

# ---- policy update ----
check "policy update web (v2)" ctl policy update "$WEB2"
expect_probe "v2: udp 198.51.100.5:53 allowed" allowed app udp 198.51.100.5 53
expect_probe "v2: udp 203.0.113.5:53 denied" denied app udp 203.0.113.5 53
expect_probe "v2: udp [2001:db8::5]:53 denied (rule added to v1 is gone)" denied app udp 2001:db8::5 53
check "policy update web back to v1" ctl policy update "$WEB"
expect_probe "v1 again: udp 203.0.113.5:53 allowed" allowed app udp 203.0.113.5 53
expect_probe "v1 again: udp 198.51.100.5:53 denied" denied app udp 198.51.100.5 53
check "policy update from stdin" sh -c "'$NETPOLCTL' --socket '$IT_SOCK' policy update - <'$WEB2'"
expect_probe "stdin v2: udp 198.51.100.5:53 allowed" allowed app udp 198.51.100.5 53

# ---- errors ----
BAD=$IT_TMP/bad.json
write_policy "$BAD" '{"name": "bad", "default": "deny", "rules": [{"action": "allow", "to": ["any"], "ports": [70000]}]}'
ctl_fails "a policy with port 70000 is refused, naming the field" 'rules\[0\]\.ports\[0\]' policy add "$BAD"
write_policy "$BAD" '{"name": "bad", "default": "deny",
  "rules": [}'
ctl_fails "a policy file that is not JSON: line and column" 'bad\.json:2:[0-9]+' policy add "$BAD"
ctl_fails "policy add of an existing name" "exist|web" policy add "$WEB"
ctl_fails "policy update of an unknown policy" "nosuch|NoSuch|unknown|no policy|not found" policy update "$IT_TMP/nosuch.json"
ctl_fails "apply an unknown policy" "nope" apply "$APP" nope
ctl_fails "apply to a cgroup that does not exist" "target|cgroup|exist" apply "$(target missing)" web
ctl_fails "apply to a cgroup outside the attach cgroup" "target|cgroup|attach|below" apply "cgroup:/" web
ctl_fails "policy delete while bound" "bound|use|InUse" policy delete web
ctl_fails "show an unknown policy" "nope" policy show nope
ctl_fails "a destination with a bad shape" "destination" test web '[2001:db8::1'
ctl_fails "daemon not running" "cannot connect to netpold at $IT_TMP/none\.sock: No such file or directory \(is netpold running\?\)" \
	--socket "$IT_TMP/none.sock" status
out=$(ctl --json policy show nope 2>/dev/null)
check_eq "--json error: stdout holds only {\"error\": ...} with the code" netpol.NoSuchPolicy \
	"$(echo "$out" | jget 'j["error"]["code"]')"

# ---- unbind ----
check "unbind $APP" ctl unbind "$APP"
expect_probe "unbound again: udp 203.0.113.5:53 allowed" allowed app udp 203.0.113.5 53
expect_probe "unbound again: tcp 203.0.113.11:8080 connects" allowed app tcp 203.0.113.11 8080
ctl_fails "unbind twice" "binding|bound|NoSuch" unbind "$APP"
check "policy delete web once unbound" ctl policy delete web
ctl_fails "web is gone" "web" policy show web

# ---- a bound cgroup that is removed takes its binding with it ----
bound() { # TARGET: 1 if listed by 'bindings', else 0
	ctl --json bindings | jget "int(any(b['target'] == '$1' for b in j['bindings']))"
}
gone_within() { # TARGET: waits up to 3 s for its binding to disappear
	local _
	for _ in $(seq 30); do
		[ "$(bound "$1")" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}
mk_cgroup doomed
check "apply deny-all to $(target doomed)" ctl apply "$(target doomed)" deny-all
check_eq "$(target doomed) is bound" 1 "$(bound "$(target doomed)")"
rmdir "$IT_CG/doomed"
gone_within "$(target doomed)" && ok "rmdir of a bound cgroup drops its binding" ||
	not_ok "the binding of a removed cgroup is still listed"
check "bindings.json forgot it" sh -c "! grep -q doomed '$IT_STATE/bindings.json'"
# Same name again: a new cgroup (new id), unbound until applied anew.
mk_cgroup doomed
check_eq "a new cgroup under the old name is not bound" 0 "$(bound "$(target doomed)")"
check "apply to the new cgroup" ctl apply "$(target doomed)" deny-all
check_eq "the new cgroup is bound" 1 "$(bound "$(target doomed)")"
check "unbind the new cgroup" ctl unbind "$(target doomed)"

it_finish
