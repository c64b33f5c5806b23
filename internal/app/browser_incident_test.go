package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// waitText waits until the element sel's text contains want.
func waitText(t *testing.T, u *browserUser, what, sel, want string) {
	t.Helper()
	deadline := time.Now().Add(browserStep)
	for time.Now().Before(deadline) {
		got := browserGet(t, u, what, chromedp.Evaluate[string](`(document.querySelector(`+jsString(sel)+`) || {innerText: ""}).innerText`))
		if strings.Contains(got, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %s: %q never showed %q", u.name, what, sel, want)
}

func jsString(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

// TestBrowserIncidentFlow: the cross-org flow of the issue in real
// browsers. The SME (German) reports a ransomware incident and asks CERT
// Süd for assistance; the CERT accepts in its inbox and invites Wolke
// Cloud AG; the provider acknowledges within its target; tasks are worked
// and the incident is resolved and closed with its review. Each
// participant's open page updates live; the outsider sees nothing.
func TestBrowserIncidentFlow(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	germanUI(t, h, "sme.analyst")
	browser := startBrowser(t, "de-DE")
	sme := newBrowserUser(t, browser, "sme.analyst")
	sme.login(t, h, h.Users["sme.analyst"], nil)
	sme.open(t, h, "/incidents/new", false)
	// The sharing fields behave as the forum's: RED offers only named
	// people, and only the chosen audience's picker shows.
	sme.do(t, "choose RED", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('f-tlp'); s.value = 'RED'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`))
	if got := browserGet(t, sme, "audience at RED", chromedp.Evaluate[string](`[document.getElementById('f-audience').value,
		document.querySelector('#f-audience option[value="org"]').disabled,
		document.querySelector('.picker[data-for="people"]').hidden].join(' ')`)); got != "people true false" {
		t.Errorf("at TLP:RED the audience is not the named people alone (value, org disabled, people picker hidden): %s", got)
	}
	// The recipients line answers as the forum's does: RED without named
	// people cannot be sent; the whole org at AMBER reaches colleagues.
	waitText(t, sme, "the refusal for RED without people", "#recipients", "So nicht möglich")
	sme.do(t, "back to AMBER for the org", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('f-tlp'); s.value = 'AMBER'; s.dispatchEvent(new Event('change', {bubbles: true}));
		const a = document.getElementById('f-audience'); a.value = 'org'; a.dispatchEvent(new Event('change', {bubbles: true})); })()`))
	waitText(t, sme, "the org's people", "#recipients", "Empfänger: Müller Maschinenbau GmbH")
	if focused := browserGet(t, sme, "focus", chromedp.Evaluate[string](`document.activeElement.id`)); focused != "i-title" {
		t.Errorf("the new incident form focuses %q, not the title", focused)
	}
	sme.do(t, "describe the incident",
		chromedp.SetValue(chromedp.ID("i-title"), "Ransomware auf dem Dateiserver"),
		chromedp.SetValue(chromedp.ID("i-desc"), "Dateien mit der Endung .kryptonit"),
		chromedp.SetValue(chromedp.ID("i-category"), "malware"),
		chromedp.SetValue(chromedp.ID("i-severity"), "critical"),
		chromedp.SetValue(chromedp.ID("f-tlp"), "AMBER"),
		chromedp.SetValue(chromedp.ID("f-audience"), "org"),
	)
	sme.submit(t, "report", "report-incident")
	loc := browserGet(t, sme, "location", chromedp.Location())
	id := strings.TrimPrefix(strings.SplitN(loc, "?", 2)[0], h.URL+"/incidents/")
	if len(id) != 36 || !strings.Contains(sme.text(t), "kritisch") {
		t.Fatalf("after reporting: %s\n%s", loc, sme.text(t))
	}
	sme.open(t, h, "/incidents/"+id+"/edit", false)
	sme.do(t, "raise nothing, flag NIS2", chromedp.Click(chromedp.CSS(`input[name="nis2"]`)))
	sme.submit(t, "save the edit", "save-incident")
	if text := sme.text(t); !strings.Contains(text, "NIS2-Frühwarnung") || !strings.Contains(text, "Bearbeitet: NIS2-Meldepflicht") {
		t.Errorf("after flagging NIS2 the page shows no deadline or timeline entry: %s", text)
	}
	sme.do(t, "ask CERT Süd", chromedp.SetValue(chromedp.ID("as-cert"), h.Orgs["cert"]), chromedp.SetValue(chromedp.ID("as-msg"), "Bitte helfen"))
	sme.submit(t, "request assistance", "request-assistance")
	sme.open(t, h, "/incidents/"+id, true)

	cert := newBrowserUser(t, browser, "cert.analyst")
	cert.login(t, h, h.Users["cert.analyst"], nil)
	cert.open(t, h, "/incidents/inbox", false)
	if !strings.Contains(cert.text(t), "Ransomware auf dem Dateiserver") {
		t.Fatalf("the CERT inbox lacks the request: %s", cert.text(t))
	}
	cert.do(t, "accept", chromedp.Click(chromedp.CSS("button.accept")), chromedp.WaitVisible(chromedp.ID("participants")))
	waitText(t, sme, "the CERT joins live", "#participants", "CERT Süd")
	cert.do(t, "invite Wolke",
		chromedp.SetValue(chromedp.ID("inv-org"), h.Orgs["cloud"]),
		chromedp.SetValue(chromedp.ID("inv-role"), "responder"),
		chromedp.SetValue(chromedp.ID("inv-ack"), "60"),
	)
	cert.submit(t, "invite", "invite")
	cert.open(t, h, "/incidents/"+id, true)
	waitText(t, sme, "Wolke invited live", "#participants", "Wolke Cloud AG")

	cloud := newBrowserUser(t, browser, "cloud.analyst")
	cloud.login(t, h, h.Users["cloud.analyst"], nil)
	cloud.open(t, h, "/incidents", false)
	waitText(t, cloud, "the list says it waits for Wolke", "#incident-"+id, "Bestätigung ausstehend")
	cloud.open(t, h, "/incidents/"+id, true)
	cloud.submit(t, "acknowledge", "acknowledge")
	waitText(t, sme, "the acknowledgement live", "#participant-"+h.Orgs["cloud"], "bestätigt")
	waitText(t, cert, "the acknowledgement live", "#participant-"+h.Orgs["cloud"], "bestätigt")
	if strings.Contains(sme.text(t), "Reaktionsziel überschritten") {
		t.Errorf("an acknowledgement within the target shows a breach: %s", sme.text(t))
	}

	cert.open(t, h, "/incidents/"+id, true)
	cloud.open(t, h, "/incidents/"+id, true)
	cert.do(t, "a task for Wolke", chromedp.SetValue(chromedp.ID("t-title"), "Snapshots prüfen"), chromedp.SetValue(chromedp.ID("t-assignee"), "o:"+h.Orgs["cloud"]),
		chromedp.SetValue(chromedp.ID("t-due"), "2030-12-24T10:00"))
	cert.submit(t, "add task", "add-task")
	// The due time typed is the one the page shows (both German time).
	waitText(t, cert, "the due time as typed", "#tasks", "24.12.2030, 10:00")
	waitText(t, cloud, "the task live", "#tasks", "Snapshots prüfen")
	waitText(t, sme, "the task live", "#tasks", "Snapshots prüfen")
	cloud.do(t, "tick it off", chromedp.Click(chromedp.CSS("#tasks button.task-toggle")), chromedp.WaitVisible(chromedp.ID("tasks")))
	waitText(t, sme, "the task done live", "#tasks", "1 von 1 erledigt")
	cloud.open(t, h, "/incidents/"+id, true)
	cloud.do(t, "comment", chromedp.SetValue(chromedp.ID("c-body"), "Snapshots are clean"))
	cloud.submit(t, "send comment", "send-comment")
	waitText(t, sme, "the comment live", "#entry-list", "Snapshots are clean")
	waitText(t, cert, "the comment live", "#entry-list", "Snapshots are clean")

	// The next forward step is the default: one click moves forward.
	for _, st := range []string{"acknowledged", "investigating", "contained", "resolved"} {
		cert.open(t, h, "/incidents/"+id, false)
		if got := browserGet(t, cert, "default status", chromedp.Evaluate[string](`document.getElementById('s-status').value`)); got != st {
			t.Errorf("the status form's default is %q, want the next step %q", got, st)
		}
		cert.submit(t, "move to "+st, "change-status")
	}
	waitText(t, sme, "resolved live", "#incident-meta", "behoben")
	cert.open(t, h, "/incidents/"+id, false)
	if got := browserGet(t, cert, "the responder's moves", chromedp.Evaluate[string](`[...document.querySelectorAll('#s-status option')].map(o => o.value).join(' ')`)); got != " investigating" {
		t.Errorf("a coordinator that is not the reporting org is offered %q, want choose (the default: no click reopens) and investigating (only the owner closes)", got)
	}
	sme.open(t, h, "/incidents/"+id, false)
	if got := browserGet(t, sme, "owner's default", chromedp.Evaluate[string](`document.getElementById('s-status').value + ' ' + document.getElementById('review-fields').hidden`)); got != "closed false" {
		t.Errorf("a resolved incident's status form: default and review hidden %q, want closed and shown", got)
	}
	sme.do(t, "back to investigating hides the review", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('s-status'); s.value = 'investigating'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`))
	if hidden := browserGet(t, sme, "review hidden", chromedp.Evaluate[bool](`document.getElementById('review-fields').hidden`)); !hidden {
		t.Errorf("the review fields show for a move back to investigating")
	}
	// Closing without the lessons fails beside the form and keeps what
	// was chosen and typed.
	sme.do(t, "close without lessons", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('s-status'); s.value = 'closed'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`),
		chromedp.SetValue(chromedp.ID("r-happened"), "Phishing-Anhang öffnete Kryptonit"))
	sme.do(t, "send", chromedp.Click(chromedp.ID("change-status")), chromedp.WaitVisible(chromedp.CSS("#status-card #form-error")))
	if got := browserGet(t, sme, "after the error", chromedp.Evaluate[string](`[document.getElementById('s-status').value, document.getElementById('r-happened').value, location.hash].join('|')`)); got != "closed|Phishing-Anhang öffnete Kryptonit|#status-card" {
		t.Errorf("after the failed close the form shows %q, want closed, the typed text and the form's anchor", got)
	}
	sme.do(t, "close with the review",
		chromedp.SetValue(chromedp.ID("s-status"), "closed"),
		chromedp.SetValue(chromedp.ID("r-happened"), "Phishing-Anhang öffnete Kryptonit"),
		chromedp.SetValue(chromedp.ID("r-helped"), "Unveränderliche Snapshots"),
		chromedp.SetValue(chromedp.ID("r-lessons"), "Makros sperren"),
	)
	sme.submit(t, "close", "change-status")
	text := sme.text(t)
	if strings.Contains(text, "Aufgabe hinzufügen") || strings.Contains(text, "Kommentar senden") {
		t.Errorf("the closed incident still offers its forms: %s", text)
	}
	for _, want := range []string{"abgeschlossen", "Nachbereitung", "Makros sperren", "Zeitleiste"} {
		if !strings.Contains(text, want) {
			t.Errorf("the closed incident's page lacks %q: %s", want, text)
		}
	}
	sme.screenshot(t, "incident-closed")
	sme.open(t, h, "/incidents/figures", false)
	sme.screenshot(t, "incident-figures")
	for _, u := range []*browserUser{sme, cert, cloud} {
		u.noProblems(t)
	}

	outsider := newBrowserUser(t, browser, "outsider.analyst")
	outsider.login(t, h, h.Users["outsider.analyst"], nil)
	outsider.open(t, h, "/incidents", false)
	if strings.Contains(outsider.text(t), "Ransomware auf dem Dateiserver") {
		t.Errorf("the outsider's list shows the incident")
	}
	outsider.open(t, h, "/incidents/"+id, false)
	if strings.Contains(outsider.text(t), "Ransomware") || outsider.liveMentions(id) {
		t.Errorf("the outsider sees the incident")
	}
}
