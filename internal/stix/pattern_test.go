package stix

import (
	"errors"
	"strings"
	"testing"
)

// specPatterns are the pattern examples of the STIX 2.1 specification (§9),
// the 23 cases the OASIS pattern validator checks (its v21 spec_examples.txt).
var specPatterns = []string{
	`[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']`,
	`[email-message:from_ref.value MATCHES '.+\\@example\\.com$' AND email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\.exe$']`,
	`[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' AND file:mime_type = 'application/x-pdf']`,
	`[file:hashes.'SHA-256' = 'bf07a7fbb825fc0aae7bf4a1177b2b31fcf8a3feeaf7092761e18c859ee52a9c' OR file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f'] AND [file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']`,
	`([file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [win-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) WITHIN 300 SECONDS`,
	`[user-account:account_type = 'unix' AND user-account:user_id = '1007' AND user-account:account_login = 'Peter'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1008' AND user-account:account_login = 'Paul'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1009' AND user-account:account_login = 'Mary']`,
	`[artifact:mime_type = 'application/vnd.tcpdump.pcap' AND artifact:payload_bin MATCHES '\\xd4\\xc3\\xb2\\xa1\\x02\\x00\\x04\\x00']`,
	`[file:name = 'foo.dll' AND file:parent_directory_ref.path = 'C:\\Windows\\System32']`,
	`[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]`,
	`[file:mime_type = 'image/bmp' AND file:magic_number_hex = h'ffd8']`,
	`[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.33/32']`,
	`[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'example.com'] REPEATS 5 TIMES WITHIN 1800 SECONDS`,
	`[domain-name:value = 'www.5z8.info' AND domain-name:resolves_to_refs[*].value = '198.51.100.1/32']`,
	`[url:value = 'http://example.com/foo' OR url:value = 'http://example.com/bar']`,
	`[x509-certificate:issuer = 'CN=WEBMAIL' AND x509-certificate:serial_number = '4c:0b:1d:19:74:86:a7:66:b4:1a:bf:40:27:21:76:28']`,
	`[windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\CryptoLocker\\Files' OR windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\Microsoft\\CurrentVersion\\Run\\CryptoLocker_0388']`,
	`[(file:name = 'pdf.exe' OR file:size = '371712') AND file:created = t'2014-01-13T07:03:17Z']`,
	`[email-message:sender_ref.value = 'jdoe@example.com' AND email-message:subject = 'Conference Info']`,
	`[x-usb-device:usbdrive.serial_number = '575833314133343231313937']`,
	`[process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachine Root$'] FOLLOWEDBY [process:command_line MATCHES'^.+>-add GlobalSign.cer -c -s -r localMachineTrustedPublisher$'] WITHIN 300 SECONDS`,
	`[network-traffic:dst_ref.value ISSUBSET '2001:0db8:dead:beef:0000:0000:0000:0000/64']`,
	`([file:name = 'foo.dll'] AND [win-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) OR [process:name = 'fooproc' OR process:name = 'procfoo']`,
	`[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a69faa']`,
}

// morePatterns cover the grammar's corners the spec examples do not.
var morePatterns = []string{
	`[file:size = 1280]`,
	`[file:size != 1280]`,
	`[file:size <> 1280]`,
	`[file:size == 1280]`,
	`[file:size < 1024] OR [file:size <= 1024] OR [file:size > 1024] OR [file:size >= 1024]`,
	`[file:size IN (1024, 2048, 4096)]`,
	`[file:name IN ()]`,
	`[file:name NOT IN ('a', 'b')]`,
	`[file:name NOT LIKE 'name%']`,
	`[ipv4-addr:value NOT ISSUBSET '192.168.0.0/16']`,
	`[ipv6-addr:value ISSUPERSET '2001:db8::/32']`,
	`[EXISTS windows-registry-key:values]`,
	`[NOT EXISTS file:hashes.MD5]`,
	`[x_whatever:detected == t'2018-03-22T12:11:14.1Z']`,
	`[x:t = t'2016-12-31T23:59:60Z']`,
	`[artifact:payload_bin = b'dGhpcyBpcyBhIHRlc3Q=']`,
	`[artifact:payload_bin = b'YWI=' OR artifact:payload_bin = b'YWJj']`,
	`[foo:bar=1] REPEATS 9 TIMES`,
	`[x:a = -5 AND x:b = +5 AND x:c = -0.5 AND x:d = .5 AND x:e = true AND x:f = false]`,
	`[x:list[0].y = 'a' AND x:list[-1].y = 'b']`,
	`[x:'AND' = 'quoted keyword' AND x:'with space'.'x-y' = 'z']`,
	`[x:s = 'it\'s a \\ backslash']`,
	`( [(network-traffic:dst_port IN(443,6443,8443) AND network-traffic:src_packets != 0) ])`,
	`([a:b = 1] REPEATS 2 TIMES) REPEATS 2 TIMES`,
	`[a:b = 1] WITHIN 2.5 SECONDS REPEATS 2 TIMES START t'2016-06-01T01:30:00.123Z' STOP t'2016-06-01T02:20:00.123Z'`,
	`[network-traffic:src_port = 37020 AND user-account:user_id = 'root'] START t'2016-06-01T01:30:00.123Z' STOP t'2016-06-01T02:20:00.123Z' OR [ipv4-addr:value = '192.168.122.83'] START t'2016-06-01T03:55:00.123Z' STOP t'2016-06-01T04:30:24.743Z'`,
	"/* comment */ [a:b = 1] // trailing\n",
	"[a:b\u00a0=\u30001]",
	`[a:b = 1]AND[c:d = 2]FOLLOWEDBY[e:f = 3]`,
}

func TestParsePatternValid(t *testing.T) {
	for _, src := range append(append([]string{}, specPatterns...), morePatterns...) {
		p, err := ParsePattern(src)
		if err != nil {
			t.Errorf("ParsePattern(%s): %v", src, err)
			continue
		}
		s := p.String()
		p2, err := ParsePattern(s)
		if err != nil {
			t.Errorf("String() of %s does not parse: %s: %v", src, s, err)
			continue
		}
		if s2 := p2.String(); s2 != s {
			t.Errorf("String() not stable:\n first %s\nsecond %s", s, s2)
		}
	}
}

func TestPatternString(t *testing.T) {
	cases := map[string]string{
		`[file:size == 1280]`:                         `[file:size = 1280]`,
		`[file:size <> 1280]`:                         `[file:size != 1280]`,
		`[ file:name IN('a','b') ]`:                   `[file:name IN ('a', 'b')]`,
		`[file:'name' = 'x']`:                         `[file:name = 'x']`,
		`[file:hashes.'SHA-256' = '` + sha256x + `']`: `[file:hashes.'SHA-256' = '` + sha256x + `']`,
		`[x:'AND' = 'it\'s']`:                         `[x:'AND' = 'it\'s']`,
		`[NOT EXISTS a:b]`:                            `[NOT EXISTS a:b]`,
		`[a:b NOT = 1]`:                               `[a:b NOT = 1]`,
		`([a:b = 1]) WITHIN 5 SECONDS`:                `([a:b = 1]) WITHIN 5 SECONDS`,
	}
	for in, want := range cases {
		p, err := ParsePattern(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := p.String(); got != want {
			t.Errorf("%s: String() = %s, want %s", in, got, want)
		}
	}
}

const sha256x = "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"

func TestPatternPrecedence(t *testing.T) {
	p, err := ParsePattern(`[a:b = 1] OR [c:d = 2] AND [e:f = 3] FOLLOWEDBY [g:h = 4] WITHIN 5 SECONDS`)
	if err != nil {
		t.Fatal(err)
	}
	// FOLLOWEDBY is loosest, then OR, then AND; a qualifier binds to the
	// observation just before it.
	top, ok := p.Root.(*ObservationBinary)
	if !ok || top.Op != FollowedBy {
		t.Fatalf("root = %#v, want FOLLOWEDBY", p.Root)
	}
	or, ok := top.Left.(*ObservationBinary)
	if !ok || or.Op != Or {
		t.Fatalf("left of FOLLOWEDBY = %#v, want OR", top.Left)
	}
	if and, ok := or.Right.(*ObservationBinary); !ok || and.Op != And {
		t.Fatalf("right of OR = %#v, want AND", or.Right)
	}
	if q, ok := top.Right.(*Qualified); !ok || q.Qualifier.Kind != Within {
		t.Fatalf("right of FOLLOWEDBY = %#v, want a qualified observation", top.Right)
	}

	p, err = ParsePattern(`[a:b = 1 OR a:c = 2 AND a:d = 3]`)
	if err != nil {
		t.Fatal(err)
	}
	c := p.Root.(*Observation).Expr.(*ComparisonBinary)
	if c.Op != Or {
		t.Fatalf("comparison root = %v, want OR", c.Op)
	}
	if r, ok := c.Right.(*ComparisonBinary); !ok || r.Op != And {
		t.Fatalf("right of OR = %#v, want AND", c.Right)
	}
}

func TestParsePatternInvalid(t *testing.T) {
	cases := []struct{ src, why string }{
		{``, "empty"},
		{`   /* only a comment */ `, "empty"},
		{`file:size = 1280`, "no brackets"},
		{`[file:size = 1280`, "unbalanced bracket"},
		{`[file:size = 1280]]`, "extra bracket"},
		{`([file:size = 1280]`, "unbalanced parenthesis"},
		{`[(file:size = 1280]`, "unbalanced parenthesis inside"},
		{`[]`, "empty observation"},
		{`[file:size = ]`, "operator without constant"},
		{`[file:size]`, "path without operator"},
		{`[file:size =]`, "operator without constant"},
		{`[file:hashes.MD5 = cead3f77f6cda6ec00f57d76c9a6879f]`, "missing quotes"},
		{`[file:name = 'abc]`, "unterminated string"},
		{`[file.size = 1280]`, "period for colon"},
		{`[file:name MATCHES /.*\\.dll/]`, "regex without quotes"},
		{`[win-registry-key:key = 'x'] WITHIN ]`, "missing qualifier value"},
		{`[win-registry-key:key = 'x'] WITHIN 5 HOURS`, "wrong unit"},
		{`[win-registry-key:key = 'x'] WITHIN -5 SECONDS`, "negative WITHIN"},
		{`[win-registry-key:key = 'x'] WITHIN 0 SECONDS`, "zero WITHIN"},
		{`[a:b = 1] REPEATS 0 TIMES`, "zero REPEATS"},
		{`[a:b = 1] REPEATS 2.5 TIMES`, "float REPEATS"},
		{`[network-traffic:dst_ref.value ISSUBSET ]`, "missing operand"},
		{`[file:hashes.MD5 =? 'cead3f77f6cda6ec00f57d76c9a6879f']`, "bad operator"},
		{`[x_whatever:detected == t'2457-73-22T32:81:84.1Z']`, "bad timestamp"},
		{`[x:detected = t'2016-02-30T00:00:00Z']`, "no such day"},
		{`[x:detected = t'2016-01-01T00:00:00']`, "timestamp without Z"},
		{`[x:detected = t'2016-01-01T00:00:00+01:00']`, "timestamp with offset"},
		{`[x:detected = t'2016-01-01 00:00:00Z']`, "timestamp with space"},
		{`[artifact:payload_bin = b'====']`, "bad base64"},
		{`[artifact:payload_bin = b'']`, "empty base64"},
		{`[artifact:payload_bin = b'abc']`, "base64 not a multiple of 4"},
		{`[file:magic_number_hex = h'fff']`, "odd hex"},
		{`[file:magic_number_hex = h'zz']`, "bad hex"},
		{`[foo:bar=1] within 2 seconds`, "lowercase keyword"},
		{`[file:hashes.'SHA-256' = 'f00']`, "malformed hash"},
		{`[file:hashes.MD5 = 'zzzd3f77f6cda6ec00f57d76c9a6879f']`, "non-hex hash"},
		{`[a:b = 'x'] WITHIN 5 SECONDS WITHIN 6 SECONDS`, "duplicate WITHIN"},
		{`([a:b = 'x'] REPEATS 2 TIMES REPEATS 3 TIMES)`, "duplicate REPEATS"},
		{`[a:b = 'x'] START t'2016-06-01T01:30:00.123Z' STOP t'2016-06-01T02:20:00.123Z' START t'2016-06-01T01:30:00.123Z' STOP t'2016-06-01T02:20:00.123Z'`, "duplicate START/STOP"},
		{`[a:b = 'x'] STOP t'2016-06-01T02:20:00.123Z' START t'2016-06-01T01:30:00.123Z'`, "STOP before START"},
		{`[a:b = 'x'] START t'2016-06-01T02:20:00.123Z' STOP t'2016-06-01T01:30:00.123Z'`, "STOP earlier than START"},
		{`[a:b = 'x'] START t'2016-06-01T02:20:00.123Z'`, "START without STOP"},
		{`[a:b = 'x'] SECONDS WITHIN 5`, "qualifier words swapped"},
		{`[a:b = 'x'] REPEATS TIMES 5`, "qualifier words swapped"},
		{`[a:b = 'x'] AND`, "dangling AND"},
		{`AND [a:b = 'x']`, "leading AND"},
		{`[a:b = 'x' AND]`, "dangling AND inside"},
		{`[a:b = 'x'] [c:d = 'y']`, "missing operator"},
		{`[a:b > true]`, "ordered boolean"},
		{`[a:b LIKE 5]`, "LIKE without string"},
		{`[a:b IN 'x']`, "IN without set"},
		{`[a:b IN ('x',)]`, "trailing comma in set"},
		{`[a:b-c = 'x']`, "unquoted hyphen in property"},
		{`[file:extensions.windows-pebinary-ext.sections[*].entropy > 7.0]`, "unquoted hyphen in key"},
		{`[a:b[x] = 1]`, "bad index"},
		{`[a:b = 01]`, "leading zero"},
		{`[a:b = 'x\n']`, "bad escape"},
		{`[a:b = 'x'] /* unclosed`, "unclosed comment"},
		{`[a:b = 99999999999999999999]`, "integer out of range"},
		{`[a:b NOT 'x']`, "NOT without operator"},
		{`[NOT a:b = 1]`, "NOT before path"},
		{`[a: = 1]`, "missing property"},
		{`[:b = 1]`, "missing type"},
		{`[a:b = 'x'] § `, "stray character"},
		{strings.Repeat("(", 200) + `[a:b = 1]` + strings.Repeat(")", 200), "too deep"},
	}
	for _, c := range cases {
		_, err := ParsePattern(c.src)
		if err == nil {
			t.Errorf("%s: ParsePattern(%q) succeeded", c.why, c.src)
			continue
		}
		var pe *PatternError
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %v is no *PatternError", c.why, err)
		}
	}
}

func TestObservables(t *testing.T) {
	type o struct {
		typ, path, value string
		kind             ObservableKind
		suff             bool
	}
	cases := []struct {
		src  string
		want []o
	}{
		{`[ipv4-addr:value = '1.2.3.4']`, []o{{"ipv4-addr", "value", "1.2.3.4", KindIPv4, true}}},
		{`[ipv4-addr:value = '1.2.3.4' OR ipv6-addr:value = '2001:db8::1']`, []o{
			{"ipv4-addr", "value", "1.2.3.4", KindIPv4, true},
			{"ipv6-addr", "value", "2001:db8::1", KindIPv6, true},
		}},
		{`[file:hashes.'SHA-256' = '` + sha256x + `']`, []o{{"file", "hashes.'SHA-256'", sha256x, KindHash, true}}},
		{`[domain-name:value = 'evil.example'] OR [url:value = 'https://evil.example/x']`, []o{
			{"domain-name", "value", "evil.example", KindDomain, true},
			{"url", "value", "https://evil.example/x", KindURL, true},
		}},
		{`[email-addr:value = 'a@evil.example']`, []o{{"email-addr", "value", "a@evil.example", KindEmail, true}}},
		{`[ipv4-addr:value ISSUBSET '10.0.0.0/8']`, []o{{"ipv4-addr", "value", "10.0.0.0/8", KindCIDR, true}}},
		{`[ipv4-addr:value = '203.0.113.0/24']`, []o{{"ipv4-addr", "value", "203.0.113.0/24", KindCIDR, true}}},
		{`[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f' AND file:size = 10]`, []o{
			{"file", "hashes.MD5", "cead3f77f6cda6ec00f57d76c9a6879f", KindHash, false},
		}},
		{`[domain-name:value IN ('a.example', 'b.example')]`, []o{
			{"domain-name", "value", "a.example", KindDomain, true},
			{"domain-name", "value", "b.example", KindDomain, true},
		}},
		{`[domain-name:value = 'a.example'] AND [ipv4-addr:value = '1.2.3.4']`, []o{
			{"domain-name", "value", "a.example", KindDomain, false},
			{"ipv4-addr", "value", "1.2.3.4", KindIPv4, false},
		}},
		{`[domain-name:value = 'a.example'] FOLLOWEDBY [domain-name:value = 'b.example']`, []o{
			{"domain-name", "value", "a.example", KindDomain, false},
			{"domain-name", "value", "b.example", KindDomain, false},
		}},
		{`[domain-name:value = 'a.example'] REPEATS 3 TIMES`, []o{{"domain-name", "value", "a.example", KindDomain, false}}},
		{`[domain-name:value = 'a.example'] WITHIN 60 SECONDS`, []o{{"domain-name", "value", "a.example", KindDomain, true}}},
		{`[domain-name:value = 'a.example'] START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'`, []o{{"domain-name", "value", "a.example", KindDomain, false}}},
		{`[domain-name:value != 'a.example' AND NOT EXISTS x:y] OR [domain-name:value NOT = 'b.example']`, nil},
		{`[network-traffic:dst_ref.value = '203.0.113.33/32' AND network-traffic:dst_ref.type = 'ipv4-addr']`, []o{
			{"network-traffic", "dst_ref.value", "203.0.113.33/32", KindCIDR, false},
			{"network-traffic", "dst_ref.type", "ipv4-addr", KindOther, false},
		}},
		{`[domain-name:resolves_to_refs[*].value = '198.51.100.1']`, []o{{"domain-name", "resolves_to_refs[*].value", "198.51.100.1", KindIPv4, true}}},
		{`[email-message:from_ref.value = 'x@example.com']`, []o{{"email-message", "from_ref.value", "x@example.com", KindEmail, true}}},
		{`[ipv4-addr:value = '1.2.3.4'] OR ([ipv4-addr:value = '1.2.3.4'] AND [x:y = 'z'])`, []o{
			{"ipv4-addr", "value", "1.2.3.4", KindIPv4, true},
			{"x", "y", "z", KindOther, false},
		}},
		{`[file:size = 10 OR file:name ISSUBSET 'x']`, nil},
	}
	for _, c := range cases {
		p, err := ParsePattern(c.src)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		var got []o
		for _, ob := range p.Observables() {
			got = append(got, o{ob.Type, ob.Path, ob.Value, ob.Kind, ob.Sufficient})
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: Observables() = %v, want %v", c.src, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: observable %d = %v, want %v", c.src, i, got[i], c.want[i])
			}
		}
	}
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range specPatterns {
		f.Add(s)
	}
	for _, s := range morePatterns {
		f.Add(s)
	}
	f.Add(`[a:b = t'2016-12-31T23:59:60Z']`)
	f.Fuzz(func(t *testing.T, src string) {
		p, err := ParsePattern(src)
		if err != nil {
			return
		}
		s := p.String()
		p2, err := ParsePattern(s)
		if err != nil {
			t.Fatalf("String() of %q does not parse: %q: %v", src, s, err)
		}
		if s2 := p2.String(); s2 != s {
			t.Fatalf("String() not stable for %q:\n%q\n%q", src, s, s2)
		}
		_ = p.Observables()
	})
}
