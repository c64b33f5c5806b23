package training

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/i18n"
	"verbund/internal/policy"
)

// NewModule is the input for a new module. Title, guide, questions and
// options are texts per language ({"de": …, "en": …}) or plain strings in
// Language; the module's languages are those of its title, and every
// other text must be given in each of them. The sharing fields are those
// of a forum thread.
type NewModule struct {
	Language  string        `json:"language"` // of plain-string texts; default: the author's, else English
	Title     Text          `json:"title"`
	Guide     Text          `json:"guide"`
	Questions []NewQuestion `json:"questions"`
	PassMark  int           `json:"pass_mark"` // percent; default 80
	policy.Sharing
}

// NewQuestion is one question of a new quiz: Correct names the correct
// options by their place (0 is the first).
type NewQuestion struct {
	Kind    string `json:"kind"` // single (default), multiple
	Text    Text   `json:"text"`
	Options []Text `json:"options"`
	Correct []int  `json:"correct"`
}

// content is a checked module: what is stored.
type content struct {
	languages []string
	title     Text
	guide     Text
	questions []Question // without Correct
	key       [][]int
	passMark  int
}

// check normalises and checks a new module; lang is the author's
// language, for plain-string texts without a language named.
func (in NewModule) check(lang string) (content, error) {
	var c content
	def := strings.ToLower(strings.TrimSpace(in.Language))
	if def == "" {
		def = lang
	}
	if !slices.Contains(i18n.Languages(), def) {
		if in.Language != "" {
			return c, badLanguage("language", in.Language)
		}
		def = "en"
	}
	norm := func(field string, t Text) (Text, error) {
		out := Text{}
		for l, s := range t {
			if l == "" {
				l = def
			}
			l = strings.ToLower(strings.TrimSpace(l))
			if !slices.Contains(i18n.Languages(), l) {
				return nil, badLanguage(field, l)
			}
			if s = strings.TrimSpace(s); s != "" {
				out[l] = s
			}
		}
		return out, nil
	}
	title, err := norm("title", in.Title)
	if err != nil {
		return c, err
	}
	for _, l := range languages() {
		if title[l] != "" {
			c.languages = append(c.languages, l)
		}
	}
	if len(c.languages) == 0 {
		return c, fault.BadInput("title", "module_title_missing", "give the module a title")
	}
	// every checks that t has a text in each of the module's languages and
	// none in another, and that no text is longer than maxLen.
	every := func(field string, t Text, maxLen int, missing func(lang string) error) (Text, error) {
		t, err := norm(field, t)
		if err != nil {
			return nil, err
		}
		for l := range t {
			if !slices.Contains(c.languages, l) {
				return nil, fault.BadInput(field, "module_extra_language", "{field} is given in {language}, but the title is not: give the title in every language of the module").
					With("field", field).With("language", l)
			}
		}
		for _, l := range c.languages {
			if t[l] == "" && missing != nil {
				return nil, missing(l)
			}
			if utf8.RuneCountInString(t[l]) > maxLen {
				return nil, fault.BadInput(field, "too_long", "the text is too long: at most {max} characters").With("max", maxLen)
			}
		}
		return t, nil
	}
	if c.title, err = every("title", title, MaxTitle, nil); err != nil {
		return c, err
	}
	c.guide, err = every("guide", in.Guide, MaxGuide, func(l string) error {
		return fault.BadInput("guide", "module_guide_missing", "write the guide in every language of the module's title (missing: {language})").With("language", l)
	})
	if err != nil {
		return c, err
	}
	if len(in.Questions) == 0 {
		return c, fault.BadInput("questions", "quiz_questions_missing", "add at least one question to the quiz")
	}
	if len(in.Questions) > MaxQuestions {
		return c, fault.BadInput("questions", "quiz_too_many_questions", "a quiz has at most {max} questions").With("max", MaxQuestions)
	}
	for i, q := range in.Questions {
		n := i + 1
		field := fmt.Sprintf("questions[%d]", i)
		kind := strings.ToLower(strings.TrimSpace(q.Kind))
		if kind == "" {
			kind = Single
		}
		if kind != Single && kind != Multiple {
			return c, fault.BadInput(field+".kind", "quiz_bad_kind", `question {n}: unknown kind "{kind}": use single or multiple`).With("n", n).With("kind", q.Kind)
		}
		text, err := every(field+".text", q.Text, MaxQuestion, func(l string) error {
			return fault.BadInput(field+".text", "quiz_text_missing", "question {n}: write the question in every language of the module (missing: {language})").
				With("n", n).With("language", l)
		})
		if err != nil {
			return c, err
		}
		if len(q.Options) < MinOptions || len(q.Options) > MaxOptions {
			return c, fault.BadInput(field+".options", "quiz_options_count", "question {n}: give {min} to {max} answers to choose from").
				With("n", n).With("min", MinOptions).With("max", MaxOptions)
		}
		opts := make([]Text, len(q.Options))
		for j, o := range q.Options {
			if opts[j], err = every(fmt.Sprintf("%s.options[%d]", field, j), o, MaxOption, func(l string) error {
				return fault.BadInput(field+".options", "quiz_option_missing", "question {n}, answer {o}: write it in every language of the module (missing: {language})").
					With("n", n).With("o", j+1).With("language", l)
			}); err != nil {
				return c, err
			}
		}
		if len(q.Correct) == 0 {
			return c, fault.BadInput(field+".correct", "quiz_no_correct_answer", "question {n}: mark at least one answer as correct").With("n", n)
		}
		correct := slices.Clone(q.Correct)
		slices.Sort(correct)
		for k, o := range correct {
			if o < 0 || o >= len(opts) {
				return c, fault.BadInput(field+".correct", "quiz_bad_correct", "question {n}: a correct answer names answer {o}, which the question does not have").
					With("n", n).With("o", o+1)
			}
			if k > 0 && correct[k-1] == o {
				return c, fault.BadInput(field+".correct", "quiz_bad_correct", "question {n}: a correct answer names answer {o}, which the question does not have").
					With("n", n).With("o", o+1)
			}
		}
		if kind == Single && len(correct) != 1 {
			return c, fault.BadInput(field+".correct", "quiz_single_one_correct", "question {n} is single choice: mark exactly one answer as correct").With("n", n)
		}
		c.questions = append(c.questions, Question{Kind: kind, Text: text, Options: opts})
		c.key = append(c.key, correct)
	}
	c.passMark = in.PassMark
	if c.passMark == 0 {
		c.passMark = DefaultPassMark
	}
	if c.passMark < 1 || c.passMark > 100 {
		return c, fault.BadInput("pass_mark", "module_bad_pass_mark", "the pass mark is a percentage from 1 to 100")
	}
	return c, nil
}

func badLanguage(field, lang string) error {
	return fault.BadInput(field, "module_bad_language", `unknown language "{language}": use de or en`).With("language", lang)
}

// envelope builds the envelope of a new module from the client's sharing:
// without an audience, the author's organisation.
func (s *Service) envelope(a policy.Actor, k *policy.Kind, in policy.Sharing) (policy.Share, error) {
	if strings.TrimSpace(in.TLP) == "" {
		in.TLP = "AMBER"
	}
	tlp, aud, err := in.Parse()
	if err != nil {
		return policy.Share{}, err
	}
	if aud.Kind == "" {
		aud.Kind = policy.AudOrg
	}
	if aud.Kind != policy.AudCommunity {
		aud.Community = ""
	}
	return k.Envelope(a, tlp, aud), nil
}

// CreateModule writes a new module, shared as asked: analysts and admins.
// Nothing is written unless the module and its sharing pass every check.
func (s *Service) CreateModule(ctx context.Context, a policy.Actor, in NewModule) (Module, error) {
	if !a.CanWrite() {
		return Module{}, fault.New(fault.Forbidden, "role_insufficient", "your role may only read: ask an admin of your organisation for the analyst role")
	}
	c, err := in.check(i18n.Normalize(a.Lang))
	if err != nil {
		return Module{}, err
	}
	env, err := s.envelope(a, s.modules, in.Sharing)
	if err != nil {
		return Module{}, err
	}
	// Encoded before the answer for the author gets the correct answers:
	// the stored questions are what learners read.
	title, guide, questions, key, err := encode(c)
	if err != nil {
		return Module{}, err
	}
	m := Module{ID: env.ID, Languages: c.languages, Title: c.title, Guide: c.guide, Questions: make([]Question, len(c.questions)), QuestionCount: len(c.questions),
		PassMark: c.passMark, Share: env, AuthorName: a.Name, CreatedAt: env.CreatedAt, WithAnswers: true}
	for i, q := range c.questions {
		q.Correct = c.key[i]
		m.Questions[i] = q
	}
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		d, err := s.modules.Disclose(ctx, tx, a, env)
		if err != nil {
			return err
		}
		m.NotDeliveredTo = d.Uncovered
		if _, err := tx.Exec(ctx, `INSERT INTO training_modules (id, org_id, languages, title, guide, questions, answer_key, pass_mark, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, env.ID, a.OrgID, strings.Join(c.languages, ","), title, guide, questions, key, c.passMark, env.CreatedAt); err != nil {
			return fmt.Errorf("insert module: %w", err)
		}
		if err := tx.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, a.OrgID).Scan(&m.OrgName); err != nil {
			return fmt.Errorf("name module org: %w", db.Map(err))
		}
		var titles, guides []string
		for _, l := range c.languages {
			// The guide's text, not its Markdown: snippets quote it
			// (new-user review: results showed "## Worum es geht").
			titles, guides = append(titles, c.title[l]), append(guides, s.md.Text(c.guide[l]))
		}
		if err := s.modules.Index(ctx, tx, env.ID, strings.Join(titles, " · "), strings.Join(guides, "\n\n")); err != nil {
			return err
		}
		tx.AfterCommit(func() {
			sh := env
			s.Events.Publish(events.Event{Type: "training.module", Share: &sh, Topics: []string{"training"},
				Data: map[string]string{"id": env.ID, "fragment": "/training/modules/" + env.ID + "/row"}})
		})
		detail := d.Detail()
		detail["questions"], detail["pass_mark"], detail["languages"] = len(c.questions), c.passMark, c.languages
		return audit.Write(ctx, tx, a, audit.Entry{Action: "training.module.create", ObjectType: "training_module", ObjectID: env.ID,
			Detail: detail, Touches: touches(env.ID)})
	})
	return m, err
}

// touches is what a change to a module's training touches for the read
// cache (which keeps no training page: the tag only keeps other pages).
func touches(module string) []string { return []string{"training:" + module} }

func encode(c content) (title, guide, questions, key string, err error) {
	for _, v := range []struct {
		to *string
		v  any
	}{{&title, c.title}, {&guide, c.guide}, {&questions, withoutAnswers(c.questions)}, {&key, c.key}} {
		b, err := json.Marshal(v.v)
		if err != nil {
			return "", "", "", "", fmt.Errorf("encode module: %w", err)
		}
		*v.to = string(b)
	}
	return title, guide, questions, key, nil
}

// withoutAnswers is qs as learners may read them: no correct answers.
func withoutAnswers(qs []Question) []Question {
	out := make([]Question, len(qs))
	for i, q := range qs {
		q.Correct = nil
		out[i] = q
	}
	return out
}

// ModuleFilter pages through the modules a reader may see.
type ModuleFilter struct {
	// Library: "" every module the reader may see; "own" their
	// organisation's; "community" those shared with a trust circle
	// (Community, or any of the reader's); "shared" other organisations'.
	Library   string
	Community string
	After     string // cursor from a previous page
	Limit     int
	Audiences bool // fill in the named orgs and people (pages)
}

// Libraries.
const (
	LibraryOwn       = "own"
	LibraryCommunity = "community"
	LibraryShared    = "shared"
)

// Cursor encodes an id as an opaque page cursor.
func Cursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) > 200 {
		return "", fault.BadInput("next", "bad_cursor", "the page cursor is not valid: start from the first page")
	}
	return string(b), nil
}

// moduleFrom names the modules r may see with their authors, for the
// columns of moduleColumns; ordered: the list walks the table's primary
// key newest first and stops at a page.
func (s *Service) moduleFrom(h db.Handle, r *policy.Reader, ordered bool, extra string) *db.Query {
	from := r.From(s.modules, "m")
	if ordered {
		from = r.FromOrdered(h, s.modules, "m")
	}
	return db.Q(`SELECT ` + s.moduleColumns + extra + ` FROM `).Append(from).
		Add(` JOIN users u ON u.id = m_s.author_id JOIN orgs o ON o.id = m.org_id`)
}

func (s *Service) scanModule(r db.Scanner, extra ...any) (Module, error) {
	var m Module
	var langs, title, questions string
	dest := []any{&langs, &title, &m.PassMark, &questions, &m.AuthorName, &m.OrgName}
	dest = append(s.modules.Dest(&m.Share, dest), extra...)
	if err := r.Scan(dest...); err != nil {
		return m, err
	}
	m.ID, m.CreatedAt = m.Share.ID, m.Share.CreatedAt
	m.Languages = strings.Split(langs, ",")
	if err := json.Unmarshal([]byte(title), &m.Title); err != nil {
		return m, fmt.Errorf("decode module title: %w", err)
	}
	var qs []Question
	if err := json.Unmarshal([]byte(questions), &qs); err != nil {
		return m, fmt.Errorf("decode module questions: %w", err)
	}
	m.QuestionCount = len(qs)
	return m, nil
}

// FindModules lists the modules the reader may see, newest first, a page
// at a time, and the cursor of the next page ("" at the end).
func (s *Service) FindModules(ctx context.Context, a policy.Actor, f ModuleFilter) ([]Module, string, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	after, err := decodeCursor(f.After)
	if err != nil {
		return nil, "", err
	}
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, "", err
	}
	q := s.moduleFrom(h, r, true, "").Add(` WHERE 1 = 1`)
	switch f.Library {
	case "":
	case LibraryOwn:
		q.Add(` AND m.org_id = ?`, a.OrgID)
	case LibraryShared:
		q.Add(` AND m.org_id <> ?`, a.OrgID)
	case LibraryCommunity:
		q.Add(` AND m_s.audience = 'community'`)
		if f.Community != "" {
			q.Add(` AND m_s.community_id = ?`, f.Community)
		}
	default:
		return nil, "", fault.BadInput("library", "module_bad_library", `unknown library "{library}": use own, community or shared`).With("library", f.Library)
	}
	if after != "" {
		q.Add(` AND m.id < ?`, after)
	}
	q.Add(` ORDER BY m.id DESC LIMIT ?`, f.Limit+1)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("list modules: %w", err)
	}
	out, err := db.CollectN(rows, f.Limit+1, "list modules", func(sc db.Scanner) (Module, error) { return s.scanModule(sc) })
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = Cursor(out[len(out)-1].ID)
	}
	if f.Audiences {
		if err := s.nameAudiences(ctx, h, r, out); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}

// nameAudiences fills in the named audiences and circle names of a page of
// modules.
func (s *Service) nameAudiences(ctx context.Context, h db.Handle, r *policy.Reader, ms []Module) error {
	shares := make([]*policy.Share, len(ms))
	for i := range ms {
		shares[i] = &ms[i].Share
	}
	if err := r.Audiences(ctx, h, shares); err != nil {
		return err
	}
	circles := map[string]string{}
	for i := range ms {
		m := &ms[i]
		if c := m.Share.Audience.Community; c != "" {
			if _, ok := circles[c]; !ok {
				var name string
				if err := h.QueryRow(ctx, `SELECT name FROM communities WHERE id = ?`, c).Scan(&name); err != nil {
					return db.NotFound(err, "name circle")
				}
				circles[c] = name
			}
			m.CommunityName = circles[c]
		}
		names, err := policy.AudienceNames(ctx, h, m.Share.Audience)
		if err != nil {
			return err
		}
		m.AudienceNames = names
	}
	return nil
}

// FindModuleByID returns one module the reader may see (else not found)
// with its guide and questions; the correct answers only for its authors.
func (s *Service) FindModuleByID(ctx context.Context, a policy.Actor, id string) (Module, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return Module{}, err
	}
	m, err := s.module(ctx, h, r, id)
	if err != nil {
		return m, err
	}
	ms := []Module{m}
	if err := s.nameAudiences(ctx, h, r, ms); err != nil {
		return m, err
	}
	m = ms[0]
	if !isAuthor(a, m) {
		return m, nil
	}
	// An author who is assigned the module takes its quiz like any
	// learner: no answer key while an assignment covers them (an org-wide
	// or role assignment covers its analysts and admins too).
	covering, err := s.covering(ctx, h, a, m.ID)
	if err != nil {
		return m, err
	}
	if len(covering) > 0 {
		return m, nil
	}
	// The reader is one of its authors: the correct answers, read on their
	// own (no learner's read touches them).
	var key string
	if err := h.QueryRow(ctx, `SELECT answer_key FROM training_modules WHERE id = ?`, m.ID).Scan(&key); err != nil {
		return m, db.NotFound(err, "load answer key")
	}
	var correct [][]int
	if err := json.Unmarshal([]byte(key), &correct); err != nil || len(correct) != len(m.Questions) {
		return m, fmt.Errorf("decode answer key of %s: %v", m.ID, err)
	}
	for i := range m.Questions {
		m.Questions[i].Correct = correct[i]
	}
	m.WithAnswers = true
	return m, nil
}

// isAuthor reports whether a is one of m's authors: an analyst or admin of
// its organisation (the only readers of its correct answers, unless an
// assignment makes them a learner of it: FindModuleByID).
func isAuthor(a policy.Actor, m Module) bool {
	return m.Share.Owner == a.OrgID && (a.Role == policy.Analyst || a.Role == policy.Admin)
}

// module reads one module r may see, with its guide and questions (no
// answers).
func (s *Service) module(ctx context.Context, h db.Handle, r *policy.Reader, id string) (Module, error) {
	var guide, questions string
	q := s.moduleFrom(h, r, false, `, m.guide, m.questions`).Add(` WHERE m.id = ?`, id)
	m, err := s.scanModule(h.SelectRow(ctx, q), &guide, &questions)
	if err != nil {
		return m, db.NotFound(err, "load module")
	}
	// The named orgs and people too: deciding who may see it (assignees,
	// live events) needs them.
	if err := r.Audiences(ctx, h, []*policy.Share{&m.Share}); err != nil {
		return m, err
	}
	if err := json.Unmarshal([]byte(guide), &m.Guide); err != nil {
		return m, fmt.Errorf("decode guide: %w", err)
	}
	if err := json.Unmarshal([]byte(questions), &m.Questions); err != nil {
		return m, fmt.Errorf("decode questions: %w", err)
	}
	for i := range m.Questions {
		m.Questions[i].Correct = nil // never stored here; never sent from here
	}
	return m, nil
}
