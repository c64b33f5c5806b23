package bench

import (
	"context"
	"testing"
)

// TestRisks runs the risks scenario small: every read answers, the
// heatmap counts what each reader may see, and every participant's
// stream receives every vote.
func TestRisks(t *testing.T) {
	res, err := Risks(context.Background(), RisksOptions{Risks: 40, Requests: 3, Participants: 12, Votes: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Reads) != 6 || res.Reads[0].Visible != 40 || res.Reads[3].Visible != 30 {
		t.Errorf("reads: %+v", res.Reads)
	}
	if res.Votes != 3 || res.Missed != 0 || res.Delivery.N != 36 {
		t.Errorf("votes: %d, missed %d, deliveries %d", res.Votes, res.Missed, res.Delivery.N)
	}
	for _, c := range res.Checks {
		if c.Figure == "risks: vote events missed" && !c.OK {
			t.Errorf("check %+v", c)
		}
	}
}
