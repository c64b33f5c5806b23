// Package training is training and awareness: modules (a short guide and a
// quiz, in German, English or both) that organisations write and share
// like anything else (kind "training_module", category knowledge), a
// library per organisation and per trust circle (a provider's module
// shared with its customers is just its audience), assignments by an
// organisation's admins to its own people, a role or the whole
// organisation, with due dates and reminders, attempts scored when sent,
// progress per person for the person and their admins, per organisation
// for whoever the organisation shares its completion rates with (kind
// "training_rates"), and a printable certificate of completion.
//
// Modules and rate shares are read only through policy.Reader. The
// correct answers of a quiz are read only to score an attempt and for the
// module's authors (analysts and admins of its organisation): no learner's
// page or API answer carries them. Assignments and attempts are the data
// of the organisation whose people they concern: no other organisation
// reads them, only the rates an organisation chose to share.
package training

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/i18n"
	"verbund/internal/markdown"
	"verbund/internal/notify"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// Limits of a module.
const (
	MaxTitle     = 200
	MaxGuide     = 50000
	MaxQuestions = 50
	MaxQuestion  = 1000
	MaxOption    = 500
	MinOptions   = 2
	MaxOptions   = 10
	MaxNote      = 500
	// DefaultPassMark is the pass mark of a module that names none.
	DefaultPassMark = 80
	// MinGroup is the fewest people whose completion a rate shared with
	// another organisation counts: below it, the rate would tell how each
	// of them did, and only the number of people is shown.
	MinGroup = 3
)

// Service is the training capability.
type Service struct {
	DB     *db.DB
	Events *events.Broker
	// modules and rates are the capability's shareable kinds.
	modules, rates *policy.Kind
	md             *markdown.Renderer
	moduleColumns  string
	// attempts limits how often a person may send answers: a quiz is not
	// to be solved by trying every combination.
	attempts *web.Limiter
	// DueSoon is how long before its due date an assignment's people who
	// have not completed it are reminded by the hub (Remind).
	DueSoon time.Duration
	// Notify mails the reminders to those who chose it (group training);
	// nil: live reminders only.
	Notify *notify.Service
}

// New returns the service and registers its kinds with the sharing kernel.
func New(d *db.DB, b *events.Broker, k *policy.Kernel) *Service {
	s := &Service{DB: d, Events: b, md: markdown.New(),
		modules:  k.Register(policy.KindSpec{Name: "training_module", Table: "training_modules", Category: policy.Knowledge, Search: true}),
		rates:    k.Register(policy.KindSpec{Name: "training_rates", Table: "training_rate_shares", Category: policy.Knowledge}),
		attempts: web.NewLimiter(10, 1.0/30),
		DueSoon:  48 * time.Hour,
	}
	s.moduleColumns = `m.languages, m.title, m.pass_mark, m.questions, u.name, o.name, ` + s.modules.Columns("m")
	return s
}

// Text is one text in each language it is written in ("de", "en"). In
// JSON it is an object of language to text, or a plain string in the
// language the request names.
type Text map[string]string

// UnmarshalJSON reads an object of language → text, or a string (kept
// under "" until the request's language is known).
func (t *Text) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = Text{"": s}
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return &json.UnmarshalTypeError{Value: "value", Type: reflect.TypeFor[map[string]string]()}
	}
	*t = m
	return nil
}

// In is the text in lang, else in the first of langs that has one.
func (t Text) In(lang string, langs []string) string {
	if s, ok := t[lang]; ok && s != "" {
		return s
	}
	for _, l := range langs {
		if s := t[l]; s != "" {
			return s
		}
	}
	return ""
}

// Module is a training module: a guide and a quiz.
type Module struct {
	ID        string   `json:"id"`
	Languages []string `json:"languages"` // the languages its texts are in, the first the original
	Title     Text     `json:"title"`
	// Guide (Markdown) and Questions come with one module, not in lists.
	Guide         Text         `json:"guide,omitempty"`
	Questions     []Question   `json:"questions,omitempty"`
	QuestionCount int          `json:"question_count"`
	PassMark      int          `json:"pass_mark"`
	Share         policy.Share `json:"sharing"`
	OrgName       string       `json:"org_name"`
	AuthorName    string       `json:"author_name"`
	CreatedAt     int64        `json:"created_at"`
	// WithAnswers: the reader is one of its authors (an analyst or admin
	// of its organisation), and Questions carry their correct options.
	WithAnswers bool `json:"with_answers"`
	// NotDeliveredTo lists circle members the module did not reach (no
	// agreement covers them; answer to a create only).
	NotDeliveredTo []string `json:"not_delivered_to,omitempty"`
	// Pages: the community it was shared with, by name, and the named
	// audience.
	CommunityName string   `json:"-"`
	AudienceNames []string `json:"-"`
}

// TitleIn is the module's title in lang, else in its first language.
func (m Module) TitleIn(lang string) string { return m.Title.In(lang, m.Languages) }

// HasLanguage reports whether the module is written in lang.
func (m Module) HasLanguage(lang string) bool { return slices.Contains(m.Languages, lang) }

// Question is one question of a quiz. Correct is given to authors only.
type Question struct {
	Kind    string `json:"kind"` // single, multiple
	Text    Text   `json:"text"`
	Options []Text `json:"options"`
	Correct []int  `json:"correct,omitempty"`
}

// Question kinds.
const (
	Single   = "single"
	Multiple = "multiple"
)

// languages lists the hub's languages (i18n), German first: the hub
// serves German-speaking organisations first, so a module written in both
// is shown in German where the reader's language is neither.
func languages() []string {
	out := slices.Clone(i18n.Languages())
	slices.SortFunc(out, func(a, b string) int {
		if a == "de" {
			return -1
		}
		if b == "de" {
			return 1
		}
		return strings.Compare(a, b)
	})
	return out
}

// idArgs turns ids into query arguments.
func idArgs(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// decodeJSON decodes a stored JSON column.
func decodeJSON(s string, v any, what string) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("decode %s: %w", what, err)
	}
	return nil
}

// LanguageNames names the module's languages in themselves.
func (m Module) LanguageNames() string {
	names := make([]string, len(m.Languages))
	for i, l := range m.Languages {
		switch l {
		case "de":
			names[i] = "Deutsch"
		case "en":
			names[i] = "English"
		default:
			names[i] = l
		}
	}
	return strings.Join(names, ", ")
}
