package training

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"verbund/internal/fault"
)

// A question is right only with exactly its correct answers; the score is
// rounded down, so a pass mark is never reached by rounding.
func TestScore(t *testing.T) {
	key := [][]int{{1}, {0, 2}, {3}}
	for _, c := range []struct {
		answers [][]int
		score   int
		right   []bool
	}{
		{[][]int{{1}, {2, 0}, {3}}, 100, []bool{true, true, true}},
		{[][]int{{1}, {0}, {3}}, 66, []bool{true, false, true}},
		{[][]int{{0}, {0, 1, 2}, {2}}, 0, []bool{false, false, false}},
	} {
		score, right := score(key, c.answers)
		if score != c.score || !slices.Equal(right, c.right) {
			t.Errorf("%v: score %d %v, want %d %v", c.answers, score, right, c.score, c.right)
		}
	}
}

func question(correct ...int) NewQuestion {
	return NewQuestion{Text: Text{"": "Q?"}, Options: []Text{{"": "a"}, {"": "b"}, {"": "c"}}, Correct: correct}
}

// The checks of a new module: a quiz needs a correct answer in every
// question, texts come in every language of the title, and what is kept
// for learners holds no answers.
func TestCheckModule(t *testing.T) {
	ok := NewModule{Title: Text{"": "T"}, Guide: Text{"": "G"}, Questions: []NewQuestion{question(1), {Kind: "multiple", Text: Text{"": "Q2"},
		Options: []Text{{"": "x"}, {"": "y"}}, Correct: []int{1, 0}}}}
	c, err := ok.check("de")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.languages, []string{"de"}) || c.passMark != DefaultPassMark || !slices.Equal(c.key[1], []int{0, 1}) {
		t.Errorf("checked: %+v", c)
	}
	_, _, questions, _, err := encode(content{questions: []Question{{Kind: Single, Text: Text{"de": "Q"}, Correct: []int{1}}}})
	if err != nil || strings.Contains(questions, "correct") {
		t.Errorf("the questions kept for learners: %s %v", questions, err)
	}
	var back []Question
	if err := json.Unmarshal([]byte(questions), &back); err != nil || back[0].Correct != nil {
		t.Errorf("decoded: %+v %v", back, err)
	}
	for _, c := range []struct {
		name string
		in   NewModule
		code string
	}{
		{"no correct answer", NewModule{Title: ok.Title, Guide: ok.Guide, Questions: []NewQuestion{question()}}, "quiz_no_correct_answer"},
		{"two for single choice", NewModule{Title: ok.Title, Guide: ok.Guide, Questions: []NewQuestion{question(0, 1)}}, "quiz_single_one_correct"},
		{"a correct answer twice", NewModule{Title: ok.Title, Guide: ok.Guide, Questions: []NewQuestion{{Kind: "multiple", Text: Text{"": "Q"},
			Options: []Text{{"": "a"}, {"": "b"}}, Correct: []int{1, 1}}}}, "quiz_bad_correct"},
		{"negative", NewModule{Title: ok.Title, Guide: ok.Guide, Questions: []NewQuestion{question(-1)}}, "quiz_bad_correct"},
		{"English guide of a German module", NewModule{Title: Text{"de": "T"}, Guide: Text{"de": "G", "en": "G"}, Questions: ok.Questions}, "module_extra_language"},
		{"a question in German only", NewModule{Title: Text{"de": "T", "en": "T"}, Guide: Text{"de": "G", "en": "G"},
			Questions: []NewQuestion{{Text: Text{"de": "F"}, Options: []Text{{"de": "a", "en": "a"}, {"de": "b", "en": "b"}}, Correct: []int{0}}}}, "quiz_text_missing"},
		{"pass mark", NewModule{Title: ok.Title, Guide: ok.Guide, Questions: ok.Questions, PassMark: -5}, "module_bad_pass_mark"},
		{"language", NewModule{Language: "fr", Title: ok.Title, Guide: ok.Guide, Questions: ok.Questions}, "module_bad_language"},
	} {
		_, err := c.in.check("en")
		if e, _ := fault.As(err); e == nil || e.Code != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
}

// Answers must fit the questions.
func TestCheckAnswers(t *testing.T) {
	qs := []Question{{Kind: Single, Options: make([]Text, 2)}, {Kind: Multiple, Options: make([]Text, 3)}}
	if err := checkAnswers(qs, [][]int{{1}, {0, 2}}); err != nil {
		t.Fatal(err)
	}
	for answers, code := range map[string]string{`[[1]]`: "quiz_answers_count", `[[],[0]]`: "quiz_answer_missing", `[[1],[3]]`: "quiz_bad_answer",
		`[[1],[0,0]]`: "quiz_bad_answer", `[[0,1],[0]]`: "quiz_one_answer"} {
		var a [][]int
		_ = json.Unmarshal([]byte(answers), &a)
		if e, _ := fault.As(checkAnswers(qs, a)); e == nil || e.Code != code {
			t.Errorf("%s: %v, want %s", answers, e, code)
		}
	}
}
