package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"verbund/internal/db"
	"verbund/internal/intel"
	"verbund/internal/policy"
)

// SearchOptions configures the search scenario: the hub's one search over
// every kind of document (forum posts, articles, threat intelligence).
type SearchOptions struct {
	Exe         string
	Docs        int           // documents in the index (default 100,000)
	Duration    time.Duration // measured time per phase (default 5 s)
	Warmup      time.Duration // unmeasured load before each phase
	Concurrency int           // parallel connections of the main phases (default 1: the latency of one search)
	Keep        bool
	Log         io.Writer
}

// SearchResult is what the scenario measured.
type SearchResult struct {
	Docs          int     `json:"documents"`
	Posts         int     `json:"posts"`
	Articles      int     `json:"articles"`
	Intel         int     `json:"intel_objects"`
	SeedSeconds   float64 `json:"seed_seconds"`
	DBSizeMB      float64 `json:"db_size_mb"`
	IndexSeconds  float64 `json:"index_seconds"`
	IndexPerSec   float64 `json:"indexed_documents_per_second"`
	VisibleToMain int     `json:"documents_visible_to_sme_analyst"`
	Phases        []Phase `json:"phases"`
	DataDir       string  `json:"data_dir,omitempty"`
	Checks        []Check `json:"checks"`
}

// Vocabulary of the seeded texts: German and English words of security
// work, with their inflections and compounds, so that stems, umlauts and
// compound tails have something to find. Earlier words are more frequent
// (a Zipf-like draw), as in real texts.
var searchVocabulary = strings.Fields(`der die und das ist nicht wir the and of to in for is we
	Angriff Angriffe Angriffs Ransomwareangriff Phishingangriffe Sicherheitsvorfall Sicherheitsvorfälle Vorfall Vorfälle
	Verschlüsselung verschlüsselt unverschlüsselt Datensicherung Datensicherungen Sicherung Backup Backups
	Schwachstelle Schwachstellen Sicherheitslücke Patch Patches Notfallplan Notfallpläne Meldung Meldepflicht
	Zugangsdaten Passwort Passwörter Passwortrichtlinie Anmeldung Zwei-Faktor-Authentisierung Mitarbeitende Schulung
	Lieferant Lieferkette Dienstleister Rechenzentrum Firewall Firewallregel Protokoll Protokolle Netzwerksegment
	Schadsoftware Erpressung Lösegeld Wiederherstellung Wiederanlauf Geschäftsführung Krisenstab Prüfung Maßnahme Maßnahmen
	phishing campaign indicator indicators ransomware encrypted encryption decrypt backups restore policy policies
	vulnerability vulnerabilities exploit exploited patch patched supplier suppliers credential credentials attack attacks
	attacker containment forensic forensics timeline lessons learned checklist guide review incident incidents
	firewall gateway VPN beacon exfiltration lateral movement detection mitigation advisory vendor workaround
	Emotet Qakbot LockBit Conti Cobalt Strike Mimikatz PowerShell Makro Makros Anhang Anhänge E-Mail-Anhang Dateianhang`)

// bilingual writes a text of about n characters from searchVocabulary.
func bilingual(rng *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			if rng.IntN(12) == 0 {
				b.WriteString(". ")
			} else {
				b.WriteByte(' ')
			}
		}
		// Zipf-like: rank r with weight 1/(r+1).
		i := int(float64(len(searchVocabulary)) * rng.Float64() * rng.Float64())
		b.WriteString(searchVocabulary[min(i, len(searchVocabulary)-1)])
	}
	return b.String()
}

// searchQueries are the searches of the measured phases: single words of
// high, middle and low frequency, inflected and compound forms, German and
// English.
var searchQueries = []string{"Angriff", "Verschlusselung", "Vorfall", "ransomware", "policies", "Datensicherung", "Schwachstelle",
	"encryption", "phishing", "Passwort", "Lieferkette", "attacks", "Sicherung", "Emotet", "Wiederherstellung", "Anhang", "forensic", "Meldepflicht"}

// SeedSearch fills an empty world with docs documents of three kinds:
// 60 % forum posts (as SeedPosts, with bilingual texts), 20 % articles of
// sme, cloud and cert (GREEN or AMBER to the circle, a fifth AMBER in
// their org) and 20 % threat intelligence indicators (imported by sme and
// cert, a third TLP:CLEAR, the rest AMBER to the circle; the charter does
// not cover indicators, so only their own org and CLEAR reach others).
func SeedSearch(ctx context.Context, d *db.DB, w *World, docs int) (posts, articles, indicators int, err error) {
	posts, articles = docs*6/10, docs*2/10
	indicators = docs - posts - articles
	p := w.Population()
	p.Text = bilingual
	if _, err = SeedPosts(ctx, d, p, posts, 20); err != nil {
		return
	}
	if err = seedArticles(ctx, d, w, articles); err != nil {
		return
	}
	err = seedIndicators(ctx, w, indicators)
	return
}

// seedArticles bulk-writes n articles with their first versions and
// search documents, through the kernel's DiscloseAll like SeedPosts.
func seedArticles(ctx context.Context, d *db.DB, w *World, n int) error {
	kind, _ := w.App.Knowledge.KindsOf()
	p := w.Population()
	rng := rand.New(rand.NewPCG(3, 4)) // #nosec G404 -- fixed seed: the same data every run
	md := w.App.Knowledge.Markdown()
	owners := []string{"sme", "cloud", "cert"}
	kinds := []string{"guide", "checklist", "post_incident_review", "lessons_learned"}
	now := db.Now() - int64(n)*1000
	const perTx = 2000
	for start := 0; start < n; start += perTx {
		err := d.Tx(ctx, func(tx *db.Tx) error {
			shares := map[string][]policy.Share{}
			var rows, versions []any
			var texts []policy.Doc
			for i := start; i < min(n, start+perTx); i++ {
				owner := owners[i%len(owners)]
				a := p.author(owner)
				tlp, aud := policy.Green, policy.Audience{Kind: policy.AudCommunity, Community: w.Circle}
				switch rng.IntN(5) {
				case 0:
					tlp, aud = policy.Amber, policy.Audience{Kind: policy.AudOrg}
				case 1, 2:
					tlp = policy.Amber
				}
				sh := kind.Envelope(a, tlp, aud)
				sh.CreatedAt = now + int64(i)*1000
				shares[owner] = append(shares[owner], sh)
				title := bilingual(rng, 30+rng.IntN(40))
				body := "## " + bilingual(rng, 20) + "\n\n" + bilingual(rng, 200+rng.IntN(1200)) + "\n\n- " + bilingual(rng, 60) + "\n- " + bilingual(rng, 60)
				k := kinds[i%len(kinds)]
				rows = append(rows, sh.ID, p.Orgs[owner], k, "de", title, body, sh.CreatedAt, sh.CreatedAt, a.UserID)
				versions = append(versions, sh.ID, 1, k, title, body, "", a.UserID, sh.CreatedAt)
				texts = append(texts, policy.Doc{ID: sh.ID, Title: title, Body: md.Text(body)})
			}
			for _, owner := range owners {
				if _, err := kind.DiscloseAll(ctx, tx, p.author(owner), shares[owner]); err != nil {
					return fmt.Errorf("seed article shares: %w", err)
				}
			}
			if err := tx.InsertMany(ctx, "articles (id, org_id, kind, lang, title, body, created_at, updated_at, updated_by)", 9, rows); err != nil {
				return err
			}
			if err := tx.InsertMany(ctx, "article_versions (article_id, version, kind, title, body, tags, edited_by, edited_at)", 8, versions); err != nil {
				return err
			}
			if err := kind.IndexAll(ctx, tx, texts); err != nil {
				return err
			}
			return seedAudit(ctx, tx, "articles", len(texts))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// seedIndicators imports n indicators with bilingual names and
// descriptions, in bundles of 5,000, through the intel importer.
func seedIndicators(ctx context.Context, w *World, n int) error {
	rng := rand.New(rand.NewPCG(5, 6)) // #nosec G404 -- fixed seed: the same data every run
	const perBundle = 5000
	for start, b := 0, 0; start < n; start, b = start+perBundle, b+1 {
		var sb strings.Builder
		sb.WriteString(`{"type":"bundle","id":"bundle--00000000-0000-4000-8000-` + fmt.Sprintf("%012x", b) + `","objects":[`)
		for i := start; i < min(n, start+perBundle); i++ {
			if i > start {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-0000-4000-8000-%012x","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","name":%q,"description":%q,"pattern":"[domain-name:value = 'h%d.search.example']","pattern_type":"stix","valid_from":"2026-11-01T00:00:00Z"}`,
				i, i, bilingual(rng, 20+rng.IntN(30)), bilingual(rng, 60+rng.IntN(200)), i)
		}
		sb.WriteString(`]}`)
		owner := []string{"sme", "cert"}[b%2]
		opts := intel.ImportOptions{TLP: "AMBER", Community: w.Circle, Via: "bench"}
		if b%3 == 0 {
			opts.TLP = "CLEAR"
		}
		rep, err := w.App.Intel.Import(ctx, w.Users[owner+".analyst"].Actor, strings.NewReader(sb.String()), opts)
		if err != nil {
			return fmt.Errorf("seed indicators: %w", err)
		}
		if rep.Accepted == 0 {
			return fmt.Errorf("seed indicators: none accepted: %+v", rep)
		}
	}
	return nil
}

// Reindex deletes every document of the index and writes it again, in
// transactions of 1,000 documents through the kernel's IndexAll (the
// index's triggers stem every word): the time of writing the documents is
// the indexing rate. It returns the documents and the seconds.
func Reindex(ctx context.Context, d *db.DB, k *policy.Kernel) (int, float64, error) {
	rows, err := d.R().Query(ctx, `SELECT id, kind, title, body FROM search_docs ORDER BY seq`)
	if err != nil {
		return 0, 0, err
	}
	type doc struct {
		kind string
		policy.Doc
	}
	docs, err := db.Collect(rows, "read documents", func(sc db.Scanner) (x doc, err error) {
		err = sc.Scan(&x.ID, &x.kind, &x.Title, &x.Body)
		return x, err
	})
	if err != nil {
		return 0, 0, err
	}
	if err := d.Tx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM search_docs`); err != nil {
			return err
		}
		return seedAudit(ctx, tx, "search_docs", len(docs))
	}); err != nil {
		return 0, 0, fmt.Errorf("empty the index: %w", err)
	}
	kinds := map[string]*policy.Kind{}
	for _, kind := range k.Kinds() {
		kinds[kind.Name()] = kind
	}
	start := time.Now()
	const perTx = 1000
	for i := 0; i < len(docs); i += perTx {
		batch := docs[i:min(len(docs), i+perTx)]
		err := d.Tx(ctx, func(tx *db.Tx) error {
			byKind := map[string][]policy.Doc{}
			var order []string
			for _, x := range batch {
				if byKind[x.kind] == nil {
					order = append(order, x.kind)
				}
				byKind[x.kind] = append(byKind[x.kind], x.Doc)
			}
			for _, name := range order {
				if err := kinds[name].IndexAll(ctx, tx, byKind[name]); err != nil {
					return err
				}
			}
			return seedAudit(ctx, tx, "search_docs", len(batch))
		})
		if err != nil {
			return 0, 0, fmt.Errorf("index: %w", err)
		}
	}
	return len(docs), time.Since(start).Seconds(), nil
}

// Search builds the corpus in a new SQLite database, measures indexing,
// serves the hub and measures searches over GET /api/v1/search: one word
// at a time as sme.analyst (who sees about nine in ten documents), two
// words in articles only, and one word as an outsider (who sees only
// TLP:CLEAR: most matches are judged and left out).
func Search(ctx context.Context, o SearchOptions) (*SearchResult, error) {
	if o.Docs <= 0 {
		o.Docs = 100000
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format, args...)
		}
	}
	dir, err := os.MkdirTemp("", "verbund-bench-search-")
	if err != nil {
		return nil, err
	}
	res := &SearchResult{Docs: o.Docs}
	if o.Keep {
		res.DataDir = dir
	} else {
		defer os.RemoveAll(dir)
	}
	logf("building the world and storing %d documents in %s …\n", o.Docs, dir)
	seedStart := time.Now()
	w, _, err := prepare(ctx, dir, 0, func(d *db.DB, w *World) (Seeded, error) {
		var err error
		if res.Posts, res.Articles, res.Intel, err = SeedSearch(ctx, d, w, o.Docs); err != nil {
			return Seeded{}, err
		}
		res.SeedSeconds = round2(time.Since(seedStart).Seconds())
		logf("  stored in %.1f s; indexing them again …\n", res.SeedSeconds)
		n, secs, err := Reindex(ctx, d, w.App.Sharing)
		if err != nil {
			return Seeded{}, err
		}
		res.IndexSeconds, res.IndexPerSec = round2(secs), round2(float64(n)/secs)
		logf("  %d documents indexed in %.1f s: %.0f documents/s\n", n, secs, res.IndexPerSec)
		r, err := policy.NewReader(ctx, d.R(), w.Users["sme.analyst"].Actor, db.Now())
		if err != nil {
			return Seeded{}, err
		}
		for _, k := range w.App.Sharing.Searchable() {
			var c int
			if err := d.R().SelectRow(ctx, db.Q(`SELECT COUNT(*) FROM `).Append(r.From(k, "x")).Add(` JOIN search_docs x_d ON x_d.id = x.id`)).Scan(&c); err != nil {
				return Seeded{}, fmt.Errorf("count visible: %w", db.Map(err))
			}
			res.VisibleToMain += c
		}
		return Seeded{}, nil
	})
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(dir + "/verbund.db"); err == nil {
		res.DBSizeMB = mb(st.Size())
	}
	logf("  %d of %d documents visible to sme.analyst; database %.0f MB\n", res.VisibleToMain, o.Docs, res.DBSizeMB)

	srv, err := StartServer(ctx, o.Exe, dir, "--search-rate", "1000000")
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	tr := &http.Transport{MaxIdleConns: 16, MaxIdleConnsPerHost: 16, DisableCompression: true, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	phases := []struct {
		name, reader string
		path         func(i int) string
		shown        string
		concurrency  int
	}{
		{"one word", "sme.analyst", func(i int) string { return "/api/v1/search?q=" + url.QueryEscape(searchQueries[i%len(searchQueries)]) },
			"GET /api/v1/search?q={word}", o.Concurrency},
		{"two words, articles", "sme.analyst", func(i int) string {
			return "/api/v1/search?type=article&q=" + url.QueryEscape(searchQueries[i%len(searchQueries)]+" "+searchQueries[(i*7+3)%len(searchQueries)])
		}, "GET /api/v1/search?type=article&q={word}+{word}", o.Concurrency},
		{"one word, 4 connections", "sme.analyst", func(i int) string { return "/api/v1/search?q=" + url.QueryEscape(searchQueries[i%len(searchQueries)]) },
			"GET /api/v1/search?q={word} (4 connections)", 4},
		{"outsider", "outsider.analyst", func(i int) string { return "/api/v1/search?q=" + url.QueryEscape(searchQueries[i%len(searchQueries)]) },
			"GET /api/v1/search?q={word} as an outsider", o.Concurrency},
	}
	for _, ph := range phases {
		token := w.Users[ph.reader].ReadToken
		if _, err := pageSize(ctx, client, srv.URL+ph.path(0), token); err != nil && ph.reader == "sme.analyst" {
			return nil, fmt.Errorf("%s: %w\n%s", ph.shown, err, srv.Log())
		}
		logf("loading %s with %d connections for %s …\n", ph.shown, ph.concurrency, o.Duration)
		p := load(ctx, client, srv, token, ph.path, ListOptions{Concurrency: ph.concurrency, Duration: o.Duration, Warmup: o.Warmup})
		p.Endpoint, p.Path = ph.name, ph.shown
		logf("  %.0f req/s, %s, %d errors, hub %.0f µs CPU a search\n", p.RPS, p.Latency, p.Errors, p.ServerCPUUS)
		res.Phases = append(res.Phases, p)
	}
	res.Checks = append(res.Checks,
		atMost(fmt.Sprintf("search latency p99 (%d documents)", o.Docs), res.Phases[0].Latency.P99MS, 50, "ms"),
		atLeast("search indexing", res.IndexPerSec, 2000, "docs/s"))
	for _, p := range res.Phases {
		if p.Errors > 0 {
			res.Checks = append(res.Checks, atMost("search errors ("+p.Endpoint+")", float64(p.Errors), 0, ""))
		}
	}
	return res, nil
}
