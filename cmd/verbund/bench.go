package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"verbund/internal/bench"
)

const benchHelp = `usage: verbund bench startup|list|fanout|mixed|intel|search|vulns|playbooks|risks|webhooks|all [flags]

Measures the performance figures of docs/PERFORMANCE.md on this machine.
Each scenario creates a fresh SQLite database in a temporary folder, runs
this binary's "verbund serve" on it as a child process on 127.0.0.1 (a free
port), loads it over real HTTP from this process, and deletes the folder.
mixed can also run on PostgreSQL: it creates a throwaway database on the
server --postgres names and drops it afterwards. Nothing else is touched:
--data, --db and VERBUND_* settings are ignored (but for
VERBUND_BENCH_POSTGRES, the default of --postgres).

  startup   (a) time from exec until /readyz answers on an empty database,
            and resident memory (VmRSS) after 2 s idle. --runs, --idle.
  list      (b) stores --posts posts (default 100,000) over --threads
            threads with a realistic mix of TLP levels and audiences
            (bulk SQL, no audit records), then loads
              GET /api/v1/threads/{id}/posts?limit=50   (endpoint "thread")
              GET /api/v1/posts?limit=50                 (endpoint "feed")
              GET /api/v1/posts?limit=50&q={word}        (endpoint "search";
                  the hub's --search-rate is lifted for it)
            with --concurrency keep-alive connections and the bearer token
            of --reader for --duration each: requests/s, p50/p95/p99.
  fanout    (c) opens --subscribers live streams (GET /events) with the
            read tokens of users who may see a TLP:AMBER circle post and
            of users who may not (--unauthorised share), measures the
            hub's memory per idle stream, publishes --rounds replies
            through the API and measures each stream's delivery latency;
            any delivery to an unauthorised stream is reported.
            Then (unless --recheck 0) it measures deliveries while the
            hub re-checks its streams: it closes those streams and opens
            --recheck streams of as many distinct users (each its own
            read token, bulk-seeded; the same --unauthorised share), so
            that a re-check is a token query and a view load per stream.
            It posts one reply every --recheck-every: until the next
            heartbeat (every 25 s; it re-checks every stream) has passed
            by --recheck-window (unless --recheck-heartbeat=false), for
            --recheck-window without a policy change (the baseline), and
            for --recheck-window after each of --recheck-changes token
            revocations (each publishes policy.changed: every stream's
            token and view are checked again before its next delivery),
            and reports the delivery latency of the posts in those
            windows. --target incident publishes comments on a TLP:AMBER
            incident shared with the circle instead (no re-check).
            --postgres URL runs it on a throwaway PostgreSQL database with
            --replicas hubs (default 2): the streams are spread over them
            and the posts published on the first (no memory figures, no
            re-check).
  mixed     (d) the incident-grade load: stores --mixed-posts posts over
            --mixed-threads threads (as list does), then --clients
            keep-alive API clients, each an analyst of sme, cloud or cert
            with its own write token, send one request after the other
            for --duration after --warmup (not measured). Each client
            draws its operations from its own random generator (--seed):
            --write-share of them write — 85 % replies to a circle
            thread, 15 % new threads in the circle's channel (TLP:GREEN
            or AMBER to the circle, 80–600 characters) — the others read:
            40 % the feed, 40 % a circle thread's posts, 20 % the circle's
            thread list, each with a limit from 20 to 50. Every answer
            other than 200/201 (4xx too) is an error. It reports req/s,
            p50/p95/p99 per operation, req/s per 5 s, the size of SQLite's
            write-ahead log (read every 250 ms), the hubs' CPU and read
            cache hits. --engine sqlite runs one hub on SQLite; --engine
            postgres runs --replicas hubs on one throwaway PostgreSQL
            database (--postgres: the URL of a role that may create
            databases; scripts/pg-start DIR starts a throwaway server and
            prints it) and the clients send their requests to the hubs in
            turn; --engine both (the default) runs SQLite, then PostgreSQL
            when a URL is given, and reports PostgreSQL as skipped
            otherwise.
  intel     threat intelligence at scale: writes a synthetic STIX bundle of
            --objects (default 1,000,000: 40 % indicators, 30 % observables,
            30 % relationships), imports it with "verbund intel import"
            (objects/s, peak memory, and the ratio to a bare insert of as
            many 400-byte rows with two indexes into the same SQLite), then
            serves the hub and measures batch lookups of 10,000 values
            (values/s, --clients at once; one in a hundred stored, and
            half of them stored), single lookups (p50/p99) and
            TAXII paging through every object at limit 1,000 (objects/s,
            first page p99).
  search    the hub's one search (GET /api/v1/search): stores --docs
            documents (default 100,000: 60 % forum posts, 20 % articles,
            20 % threat intelligence indicators, German and English texts
            with inflections and compounds, the list scenario's mix of TLP
            levels and audiences), deletes the index and writes it again
            through the kernel's IndexAll (documents/s: the triggers stem
            every word), then serves the hub and searches for
            --search-duration each: one word at a time as sme.analyst
            (--search-concurrency connections; the p99 goal), two words in
            articles only, one word with 4 connections, and one word as an
            outsider (sees TLP:CLEAR only).
  vulns     vulnerability coordination, in this process on a fresh SQLite
            database: imports --csaf-docs synthetic CSAF 2.0 advisories (or
            the real documents below --csaf, e.g. CISA's folder) as Wolke
            Cloud AG with everything an import does (gocsaf schema and
            rules, CVSS vectors, SHA-512 checks, the kernel's disclosure and
            an audit record per document, matching against an org's 1,000
            assets): documents/s; then matches --match-assets assets against
            --match-advisories advisories of four products each (CPE, PURL,
            vendor+product, versions and ranges) in memory: seconds.
  playbooks CACAO 2.0 playbooks, in this process on a fresh SQLite
            database: imports --playbooks synthetic playbooks of 14 steps
            (manual steps for three organisations, a decision, parallel
            branches, a TLP:AMBER marking) into the trust circle's library
            as Müller with everything an import does (the official schemas,
            the semantic checks, the kernel's disclosure, the version's
            document, the search index, an audit record each):
            playbooks/s; then the same files again (idempotent re-import).
  risks     the joint risk register, in this process on a fresh SQLite
            database behind a real HTTP server on 127.0.0.1: writes
            --risks risks (default 10,000) through the sharing kernel, then
            reads the heatmap, the prioritised list's first page and the
            register page --risk-requests times each as the owner and as
            the circle's CERT (p99); then --risk-participants people of the
            circle (default 100) open a workshop's live stream and the
            facilitator votes --risk-votes times: the time from sending a
            vote to each participant's stream reading its event (p99).
  webhooks  the deliverer: --deliveries sighting events wait in a fresh
            hub's outbox for one webhook of sme to a receiver in this
            process on 127.0.0.1 (which checks every signature); the hub
            starts (--webhook-allow-private) and delivers them:
            deliveries/s from the first to the last. Then again in a new
            world, with the hub killed (SIGKILL) after a third and started
            again: every delivery must arrive (at least once).
  all       runs them all with their defaults; in all, --duration and
            --warmup are list's, and mixed runs 30 s after 2 s. all also
            runs fanout of incident comments, and over --replicas hubs on
            PostgreSQL when a server is given.

The load generator shares the CPU with the hub: numbers are for this
machine as a whole. Progress goes to stderr; the report (or --json) to
stdout. With --check the exit status is 1 when a goal is missed.

Examples:
  verbund bench startup
  verbund bench list --posts 100000 --duration 10s --concurrency 16
  verbund bench fanout --subscribers 1000 --json
  verbund bench fanout --subscribers 200 --recheck 1000 --recheck-changes 5
  verbund bench fanout --target incident --postgres "$VERBUND_TEST_POSTGRES"
  verbund bench mixed --engine sqlite --clients 50 --duration 30s
  eval "$(scripts/pg-start /tmp/pg)"; verbund bench mixed --postgres "$VERBUND_TEST_POSTGRES"
  verbund bench search --docs 100000
`

func (c *cli) bench(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(c.stdout, benchHelp)
		if len(args) == 0 {
			return usageError{"name a scenario: startup, list, fanout, mixed, intel, search, vulns, playbooks, webhooks or all"}
		}
		return flag.ErrHelp
	}
	scenario, rest := args[0], args[1:]
	fs := flag.NewFlagSet("verbund bench "+scenario, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprint(c.stderr, benchHelp)
		fmt.Fprintf(c.stderr, "\nflags of %s:\n", scenario)
		fs.PrintDefaults()
	}
	asJSON := fs.Bool("json", false, "print the result as JSON")
	check := fs.Bool("check", false, "exit with status 1 when a goal is missed")
	exe := fs.String("exe", "", "verbund binary to measure (default: this one)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	var so bench.StartupOptions
	var lo bench.ListOptions
	var fo bench.FanoutOptions
	var mo bench.MixedOptions
	var io2 bench.IntelOptions
	var so2 bench.SearchOptions
	var vo bench.VulnsOptions
	var ro bench.RisksOptions
	var wo bench.WebhooksOptions
	var po bench.PlaybooksOptions
	var endpoints, engine, postgres string
	// In "bench all" each scenario registers its flags apart; they are
	// then merged, a name another scenario took first getting the
	// scenario's in front (--intel-clients).
	type scenarioSet struct {
		name string
		set  *flag.FlagSet
	}
	var sets []scenarioSet
	sub := func(name string) *flag.FlagSet {
		if scenario != "all" {
			return fs
		}
		set := flag.NewFlagSet(name, flag.ContinueOnError)
		sets = append(sets, scenarioSet{name, set})
		return set
	}
	if scenario == "startup" || scenario == "all" {
		fs := sub("startup")
		fs.IntVar(&so.Runs, "runs", 5, "startup: fresh starts to measure")
		fs.DurationVar(&so.Idle, "idle", 2*time.Second, "startup: idle time before reading memory")
	}
	if scenario == "list" || scenario == "all" {
		fs := sub("list")
		fs.IntVar(&lo.Posts, "posts", 100000, "list: posts to store")
		fs.IntVar(&lo.Threads, "threads", 10, "list: threads to spread them over (one of them internal to sme)")
		fs.DurationVar(&lo.Duration, "duration", 10*time.Second, "list: measured load per endpoint")
		fs.DurationVar(&lo.Warmup, "warmup", time.Second, "list: unmeasured load before each endpoint")
		fs.IntVar(&lo.Concurrency, "concurrency", 16, "list: parallel keep-alive connections")
		fs.StringVar(&lo.Reader, "reader", "sme.analyst", "list: reading user: <org>.analyst|admin|viewer, org sme, cloud, cert, nocontract or outsider")
		fs.StringVar(&endpoints, "endpoint", "thread,feed,search", "list: endpoints to load, comma separated: thread, feed, search")
		fs.BoolVar(&lo.Keep, "keep", false, "list: keep the seeded data folder (printed) for inspection")
		fs.StringVar(&lo.CPUProfile, "cpuprofile", "", "list: write the hub's CPU profile over each endpoint's measured load to this file, suffixed .thread, .feed or .search (for go tool pprof)")
		fs.IntVar(&lo.ReadCache, "read-cache", 16, "list: the hub's read cache in MB; 0 turns it off, so every page is built from the database")
		fs.IntVar(&lo.ThreadCache, "thread-cache", 64, "list: the hub's thread cache in MB (threads' first posts, judged per reader in memory); 0 turns it off")
		fs.Float64Var(&lo.Writes, "writes", 0, "list: posts per second written during the load (each empties the read cache)")
	}
	if scenario == "fanout" || scenario == "all" {
		fs := sub("fanout")
		fs.IntVar(&fo.Subscribers, "subscribers", 1000, "fanout: live streams to open")
		fs.Float64Var(&fo.Unauthorised, "unauthorised", 0.2, "fanout: share of streams whose user may not see the post")
		fs.IntVar(&fo.Readers, "readers", 20, "fanout: reader accounts per org to spread the streams over")
		fs.IntVar(&fo.Rounds, "rounds", 5, "fanout: posts to publish")
		fs.DurationVar(&fo.Idle, "stream-idle", 2*time.Second, "fanout: idle time with open streams before reading memory")
		fs.IntVar(&fo.Recheck, "recheck", 1000, "fanout: streams of distinct users for the re-check measurement; 0 skips it")
		fs.IntVar(&fo.RecheckChanges, "recheck-changes", 5, "fanout: policy changes to measure deliveries after")
		fs.DurationVar(&fo.RecheckWindow, "recheck-window", 500*time.Millisecond, "fanout: how long to post after each policy change (for the baseline; before and after the heartbeat)")
		fs.DurationVar(&fo.RecheckEvery, "recheck-every", 20*time.Millisecond, "fanout: one post this often during the re-check measurement")
		fs.BoolVar(&fo.RecheckHeartbeat, "recheck-heartbeat", true, "fanout: also measure around the next heartbeat (waits for it: up to 25 s)")
	}
	if scenario == "fanout" {
		fs.StringVar(&postgres, "postgres", "", "fanout: run on a throwaway PostgreSQL database on this server (admin URL, postgres://…) with --replicas hubs")
		fs.IntVar(&fo.Replicas, "replicas", 2, "fanout: hubs on the PostgreSQL database (with --postgres)")
		fs.StringVar(&fo.Target, "target", "post", "fanout: what is published: post (replies to a circle thread) or incident (comments on an incident shared with the circle; no re-check measurement)")
	}
	if scenario == "mixed" || scenario == "all" {
		fs := sub("mixed")
		mixedFlags(fs, &mo, &engine, &postgres, scenario == "mixed")
	}
	if scenario == "intel" || scenario == "all" {
		fs := sub("intel")
		fs.IntVar(&io2.Objects, "objects", 1000000, "intel: objects in the synthetic bundle (indicators, observables, relationships)")
		fs.IntVar(&io2.Clients, "clients", 4, "intel: concurrent batch lookup clients")
		fs.DurationVar(&io2.Duration, "intel-duration", 5*time.Second, "intel: length of each lookup phase")
	}
	if scenario == "search" || scenario == "all" {
		fs := sub("search")
		fs.IntVar(&so2.Docs, "docs", 100000, "search: documents in the index")
		fs.DurationVar(&so2.Duration, "search-duration", 5*time.Second, "search: measured time per phase")
		fs.DurationVar(&so2.Warmup, "search-warmup", time.Second, "search: unmeasured load before each phase")
		fs.IntVar(&so2.Concurrency, "search-concurrency", 1, "search: connections of the main phases")
		if scenario == "search" {
			fs.BoolVar(&so2.Keep, "keep", false, "search: keep the seeded data folder (printed) for inspection")
		}
	}
	if scenario == "webhooks" || scenario == "all" {
		fs := sub("webhooks")
		fs.IntVar(&wo.Deliveries, "deliveries", 5000, "webhooks: deliveries waiting in the outbox")
	}
	if scenario == "vulns" || scenario == "all" {
		fs := sub("vulns")
		fs.IntVar(&vo.Documents, "csaf-docs", 2000, "vulns: synthetic CSAF documents to import")
		fs.StringVar(&vo.CSAF, "csaf", "", "vulns: import the CSAF documents below this folder instead (their .sha512 files checked)")
		fs.IntVar(&vo.Assets, "match-assets", 10000, "vulns: assets in the matching figure")
		fs.IntVar(&vo.Advisory, "match-advisories", 10000, "vulns: advisories in the matching figure")
	}
	if scenario == "playbooks" || scenario == "all" {
		fs := sub("playbooks")
		fs.IntVar(&po.Documents, "playbooks", 5000, "playbooks: synthetic CACAO playbooks to import")
	}
	if scenario == "risks" || scenario == "all" {
		fs := sub("risks")
		fs.IntVar(&ro.Risks, "risks", 10000, "risks: risks in the register")
		fs.IntVar(&ro.Requests, "risk-requests", 100, "risks: requests per read figure")
		fs.IntVar(&ro.Participants, "risk-participants", 100, "risks: live participants of the workshop")
		fs.IntVar(&ro.Votes, "risk-votes", 50, "risks: votes measured")
	}
	switch scenario {
	case "startup", "list", "fanout", "mixed", "intel", "search", "vulns", "playbooks", "risks", "webhooks", "all":
	default:
		fmt.Fprint(c.stderr, benchHelp)
		return usageError{fmt.Sprintf("unknown scenario %q: use startup, list, fanout, mixed, intel, search, vulns, playbooks, risks, webhooks or all", scenario)}
	}
	for _, ss := range sets {
		ss.set.VisitAll(func(f *flag.Flag) {
			name := f.Name
			if fs.Lookup(name) != nil {
				name = ss.name + "-" + name
			}
			fs.Var(f.Value, name, f.Usage)
		})
	}
	if err := c.parse(fs, rest); err != nil {
		return err
	}
	if *exe == "" {
		p, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find this binary: %w (pass --exe)", err)
		}
		*exe = p
	}
	var progress io.Writer = c.stderr
	if *quiet {
		progress = nil
	}
	so.Exe, lo.Exe, fo.Exe, mo.Exe, io2.Exe, so2.Exe, wo.Exe = *exe, *exe, *exe, *exe, *exe, *exe, *exe
	wo.Log = progress
	so.Log, lo.Log, fo.Log, mo.Log, io2.Log, so2.Log, vo.Log, po.Log, ro.Log = progress, progress, progress, progress, progress, progress, progress, progress, progress
	var engines []string
	var mixedSkipped string
	if scenario == "mixed" || scenario == "all" {
		var err error
		if postgres == "" {
			postgres = c.env("VERBUND_BENCH_POSTGRES")
		}
		if engines, mixedSkipped, err = mixedEngines(engine, postgres); err != nil {
			return err
		}
		if mo.WriteShare == 0 {
			mo.WriteShare = bench.ReadsOnly // the flag's 0 is "no writes", the option's 0 "the default"
		}
	}
	lo.Endpoints = strings.Split(endpoints, ",")
	if scenario == "fanout" {
		fo.Postgres = postgres
	}

	report := struct {
		Machine bench.Machine        `json:"machine"`
		Binary  string               `json:"binary"`
		Startup *bench.StartupResult `json:"startup,omitempty"`
		List    *bench.ListResult    `json:"list,omitempty"`
		Fanout  *bench.FanoutResult  `json:"fanout,omitempty"`
		// FanoutMore are all's further fan-outs: incident comments on
		// SQLite, and over replicas on PostgreSQL when a server is given.
		FanoutMore []*bench.FanoutResult  `json:"fanout_more,omitempty"`
		Mixed      []*bench.MixedResult   `json:"mixed,omitempty"`
		Intel      *bench.IntelResult     `json:"intel,omitempty"`
		Search     *bench.SearchResult    `json:"search,omitempty"`
		Vulns      *bench.VulnsResult     `json:"vulns,omitempty"`
		Playbooks  *bench.PlaybooksResult `json:"playbooks,omitempty"`
		Risks      *bench.RisksResult     `json:"risks,omitempty"`
		Webhooks   *bench.WebhooksResult  `json:"webhooks,omitempty"`
		Skipped    string                 `json:"mixed_skipped,omitempty"` // why a part of mixed did not run
		Checks     []bench.Check          `json:"checks"`
	}{Machine: bench.ThisMachine(), Binary: *exe, Skipped: mixedSkipped}
	var err error
	if scenario == "startup" || scenario == "all" {
		c.progress(progress, "startup: %d fresh starts\n", so.Runs)
		if report.Startup, err = bench.Startup(c.ctx, so); err != nil {
			return err
		}
		report.Checks = append(report.Checks, report.Startup.Checks...)
	}
	if scenario == "list" || scenario == "all" {
		c.progress(progress, "list:\n")
		if report.List, err = bench.List(c.ctx, lo); err != nil {
			return err
		}
		report.Checks = append(report.Checks, report.List.Checks...)
	}
	if scenario == "fanout" || scenario == "all" {
		c.progress(progress, "fanout:\n")
		if report.Fanout, err = bench.Fanout(c.ctx, fo); err != nil {
			return err
		}
		report.Checks = append(report.Checks, report.Fanout.Checks...)
	}
	if scenario == "all" {
		// Issue "Shared incidents": a comment to 1,000 live viewers of
		// the incident, on one hub and over two replicas.
		more := []bench.FanoutOptions{fo}
		more[0].Target, more[0].Recheck = "incident", 0
		if slices.Contains(engines, "postgres") {
			o := more[0]
			o.Postgres, o.Replicas = postgres, mo.Replicas
			more = append(more, o)
		}
		for _, o := range more {
			c.progress(progress, "fanout of incident comments (%d hub(s)):\n", max(o.Replicas, 1))
			r, err := bench.Fanout(c.ctx, o)
			if err != nil {
				return err
			}
			report.FanoutMore = append(report.FanoutMore, r)
			report.Checks = append(report.Checks, r.Checks...)
		}
	}
	for _, e := range engines {
		c.progress(progress, "mixed on %s:\n", e)
		o := mo
		o.Engine = e
		if e == "postgres" {
			o.Postgres = postgres
		} else {
			o.Replicas = 1 // --replicas is PostgreSQL's
		}
		r, err := bench.Mixed(c.ctx, o)
		if err != nil {
			return fmt.Errorf("mixed on %s: %w", e, err)
		}
		report.Mixed = append(report.Mixed, r)
		report.Checks = append(report.Checks, r.Checks...)
	}
	if mixedSkipped != "" {
		c.progress(progress, "mixed: %s\n", mixedSkipped)
	}
	if scenario == "intel" || scenario == "all" {
		c.progress(progress, "intel:\n")
		if report.Intel, err = bench.Intel(c.ctx, io2); err != nil {
			return fmt.Errorf("intel: %w", err)
		}
		report.Checks = append(report.Checks, report.Intel.Checks...)
	}
	if scenario == "search" || scenario == "all" {
		c.progress(progress, "search:\n")
		if report.Search, err = bench.Search(c.ctx, so2); err != nil {
			return fmt.Errorf("search: %w", err)
		}
		report.Checks = append(report.Checks, report.Search.Checks...)
	}
	if scenario == "vulns" || scenario == "all" {
		c.progress(progress, "vulns:\n")
		if report.Vulns, err = bench.Vulns(c.ctx, vo); err != nil {
			return fmt.Errorf("vulns: %w", err)
		}
		report.Checks = append(report.Checks, report.Vulns.Checks...)
	}
	if scenario == "playbooks" || scenario == "all" {
		c.progress(progress, "playbooks:\n")
		if report.Playbooks, err = bench.Playbooks(c.ctx, po); err != nil {
			return fmt.Errorf("playbooks: %w", err)
		}
		report.Checks = append(report.Checks, report.Playbooks.Checks...)
	}
	if scenario == "risks" || scenario == "all" {
		c.progress(progress, "risks:\n")
		if report.Risks, err = bench.Risks(c.ctx, ro); err != nil {
			return fmt.Errorf("risks: %w", err)
		}
		report.Checks = append(report.Checks, report.Risks.Checks...)
	}

	if scenario == "webhooks" || scenario == "all" {
		c.progress(progress, "webhooks:\n")
		if report.Webhooks, err = bench.Webhooks(c.ctx, wo); err != nil {
			return fmt.Errorf("webhooks: %w", err)
		}
		report.Checks = append(report.Checks, report.Webhooks.Checks...)
	}

	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return err
		}
	} else {
		w := c.stdout
		fmt.Fprintf(w, "verbund bench %s — %s\n", scenario, report.Machine)
		if s := report.Startup; s != nil {
			fmt.Fprintf(w, "\nstartup (%d runs, empty SQLite database):\n", len(s.Runs))
			fmt.Fprintf(w, "  ready after exec:  median %.1f ms, max %.1f ms\n", s.ReadyMedianMS, s.ReadyMaxMS)
			fmt.Fprintf(w, "  idle RSS after %gs: median %.1f MB, max %.1f MB (Go heap in use %.1f MB, %d goroutines)\n",
				s.IdleSeconds, s.RSSMedianMB, s.RSSMaxMB, s.Runs[0].HeapMB, s.Runs[0].Goroutine)
		}
		if l := report.List; l != nil {
			fmt.Fprintf(w, "\nlist (%d posts over %d threads, %d visible to %s; seeded in %.1f s, database %.0f MB; %d connections; read cache %d MB; %.0f writes/s):\n",
				l.Posts, l.Threads, l.VisiblePosts, l.Reader, l.SeedSeconds, l.DBSizeMB, l.Concurrency, l.ReadCacheMB, l.WritesPerSec)
			for _, p := range l.Phases {
				fmt.Fprintf(w, "  %s  (%d items per page)\n", p.Path, p.ItemsPerPage)
				fmt.Fprintf(w, "    %.0f req/s over %.1f s, %d errors\n    latency %s\n", p.RPS, p.Seconds, p.Errors, p.Latency)
				fmt.Fprintf(w, "    CPU: hub %.0f%% of a core (%.0f%% in the kernel; %.0f µs per request), load generator %.0f%%\n",
					p.ServerCPUPct, p.ServerSysPct, p.ServerCPUUS, p.LoadCPUPct)
				fmt.Fprintf(w, "    read cache: %.1f%% of pages served from it; thread cache: %.1f%% of the pages it was asked for; %d posts written meanwhile\n", p.CacheHitPct, p.ThreadHitPct, p.Written)
				if p.FirstError != "" {
					fmt.Fprintf(w, "    first error: %s\n", p.FirstError)
				}
			}
			if l.DataDir != "" {
				fmt.Fprintf(w, "  data kept in %s\n", l.DataDir)
			}
		}
		for _, f := range append([]*bench.FanoutResult{report.Fanout}, report.FanoutMore...) {
			if f == nil {
				continue
			}
			where := ""
			if f.Replicas > 1 {
				where = fmt.Sprintf(" over %d hubs on PostgreSQL, posted on the first", f.Replicas)
			}
			what, whats := "post", "posts"
			if f.Target == "incident" {
				what, whats = "incident comment", "incident comments"
			}
			fmt.Fprintf(w, "\nfanout (%d streams%s: %d may see the %s, %d may not; opened in %.1f s):\n",
				f.Subscribers, where, f.Authorised, what, f.Unauthorised, f.OpenSeconds)
			fmt.Fprintf(w, "  delivery of %d %s: %s\n", f.Rounds, whats, f.Delivery)
			fmt.Fprintf(w, "  slowest stream per %s (ms): %v; the POST itself: p50 %.1f ms\n", what, f.RoundMaxMS, f.PublishMS.P50MS)
			fmt.Fprintf(w, "  missed %d, leaked to unauthorised %d, dropped as slow %.0f\n", f.Missed, f.Leaked, f.Dropped)
			if f.Replicas <= 1 {
				fmt.Fprintf(w, "  memory per idle stream: RSS %.1f KB (hub %.1f → %.1f MB), Go heap %.1f KB, stacks %.1f KB, %.1f goroutines\n",
					f.RSSPerSubKB, f.BaseRSSMB, f.StreamsRSSMB, f.HeapPerSubKB, f.StackPerSubKB, f.GoroutinesPerSb)
			}
			if r := f.Recheck; r != nil {
				fmt.Fprintf(w, "\nfanout during re-checks (%d streams of %d distinct users: %d may see the posts; a post every %.0f ms for %.0f ms):\n",
					r.Streams, r.Streams, r.Authorised, r.IntervalMS, r.WindowMS)
				fmt.Fprintf(w, "  without a policy change:      %s\n", r.Baseline)
				fmt.Fprintf(w, "  after %d policy changes:       %s\n", r.Changes, r.AfterChange)
				fmt.Fprintf(w, "  first post after each change: %s\n", r.FirstPost)
				fmt.Fprintf(w, "  slowest delivery per change (ms): %v\n", r.ChangeMaxMS)
				if r.Heartbeat.N > 0 {
					fmt.Fprintf(w, "  around the heartbeat:         %s\n", r.Heartbeat)
				}
				fmt.Fprintf(w, "  missed %d, leaked to unauthorised %d\n", r.Missed, r.Leaked)
			}
		}
		for _, m := range report.Mixed {
			writeMixed(w, m)
		}
		if report.Skipped != "" {
			fmt.Fprintf(w, "\nmixed: %s\n", report.Skipped)
		}
		if in := report.Intel; in != nil {
			fmt.Fprintf(w, "\nintel (%d objects, %.0f MB bundle, SQLite):\n", in.Objects, in.BundleMB)
			fmt.Fprintf(w, "  import:        %.0f objects/s (%.1f s), peak RSS %.0f MB; bare insert %.0f rows/s, import at %.0f %% of it\n",
				in.ImportPerSec, in.ImportSeconds, in.ImportPeakRSSMB, in.BareInsertPerSec, 100*in.ImportVsBare)
			fmt.Fprintf(w, "  batch lookup:  %.0f values/s (1 %% of them stored); %.0f values/s (half of them stored)\n  single lookup: %s\n", in.LookupPerSec, in.LookupHalfPerSec, in.SingleLookup)
			fmt.Fprintf(w, "  TAXII paging:  %.0f objects/s (%d objects); first page %s\n", in.TAXIIPerSec, in.TAXIIPaged, in.TAXIIFirstPage)
		}
		if sr := report.Search; sr != nil {
			fmt.Fprintf(w, "\nsearch (%d documents: %d posts, %d articles, %d indicators; %d visible to sme.analyst; stored in %.1f s, database %.0f MB):\n",
				sr.Docs, sr.Posts, sr.Articles, sr.Intel, sr.VisibleToMain, sr.SeedSeconds, sr.DBSizeMB)
			fmt.Fprintf(w, "  indexing: %.0f documents/s (%.1f s)\n", sr.IndexPerSec, sr.IndexSeconds)
			for _, p := range sr.Phases {
				fmt.Fprintf(w, "  %s\n    %.0f req/s, %d errors, latency %s\n    hub %.0f%% of a core, %.0f µs CPU a search\n",
					p.Path, p.RPS, p.Errors, p.Latency, p.ServerCPUPct, p.ServerCPUUS)
			}
		}
		if v := report.Vulns; v != nil {
			fmt.Fprintf(w, "\nvulns (SQLite, in process):\n")
			fmt.Fprintf(w, "  CSAF import: %d documents (%s) in %.2f s: %.0f documents/s\n", v.Documents, v.Source, v.ImportSeconds, v.ImportPerSec)
			fmt.Fprintf(w, "  matching:    %d assets against %d advisories (%d products): %d hits in %.3f s\n", v.Assets, v.Advisories, v.Products, v.Hits, v.MatchSeconds)
			fmt.Fprintf(w, "  through the database: an inventory of %d assets imported and matched against %d stored advisories: %d matches in %.2f s\n",
				v.Assets, v.StoredAdvisories, v.StoredMatches, v.StoredMatchSecond)
		}
		if p := report.Playbooks; p != nil {
			fmt.Fprintf(w, "\nplaybooks (SQLite, in process):\n")
			fmt.Fprintf(w, "  CACAO import: %d playbooks (%d steps, %d bytes each) in %.2f s: %.0f playbooks/s\n", p.Documents, p.Steps, p.Bytes, p.ImportSeconds, p.ImportPerSec)
			fmt.Fprintf(w, "  again (every version held): %.2f s: %.0f playbooks/s\n", p.AgainSeconds, p.AgainPerSec)
		}
		if r := report.Risks; r != nil {
			fmt.Fprintf(w, "\nrisks (SQLite, in process, HTTP on loopback; %d risks written in %.1f s):\n", r.Risks, r.SeedSeconds)
			for _, rd := range r.Reads {
				fmt.Fprintf(w, "  GET %s as %s (%d visible): server %s\n", rd.Path, rd.Reader, rd.Visible, rd.Server)
				fmt.Fprintf(w, "    round trip: %s\n", rd.Latency)
			}
			fmt.Fprintf(w, "  a workshop vote to %d live participants (%d votes): %s, %d missed\n", r.Participants, r.Votes, r.Delivery, r.Missed)
		}
		if wh := report.Webhooks; wh != nil {
			fmt.Fprintf(w, "\nwebhooks (SQLite, one hub, a receiver on loopback):\n")
			fmt.Fprintf(w, "  %d deliveries in %.2f s: %.0f deliveries/s\n", wh.Deliveries, wh.Seconds, wh.PerSecond)
			fmt.Fprintf(w, "  killed (SIGKILL) after %d, started again: %d of %d received (%d twice), %d lost, %d with a bad signature\n",
				wh.KilledAfter, wh.Received, wh.Deliveries, wh.Duplicates, wh.Lost, wh.BadSigned)
		}
		fmt.Fprintf(w, "\ngoals:\n%s", bench.Verdict(report.Checks))
	}
	if *check {
		for _, ch := range report.Checks {
			if !ch.OK {
				return errors.New("a performance goal was missed")
			}
		}
	}
	return nil
}

func (c *cli) progress(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}
