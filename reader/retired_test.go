//go:build unix

package reader

import "testing"

// TestPileup checks when a pileup says a collection is due: a step above
// its base, which marking raises to the count and releases lower.
func TestPileup(t *testing.T) {
	type op struct {
		do   string // "add", "remove" or "mark"
		d    int64
		over bool // what over reports afterwards
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{"fills up to a step", []op{{"add", 9, false}, {"add", 1, true}}},
		{"mark resets", []op{{"add", 10, true}, {"mark", 0, false}, {"add", 9, false}, {"add", 1, true}}},
		{"releases lower the base", []op{{"add", 10, true}, {"mark", 0, false}, {"remove", 10, false}, {"add", 9, false}, {"add", 1, true}}},
		{"survivors of a collection stay counted", []op{
			{"add", 10, true}, {"mark", 0, false}, // a collection starts with 10 retired
			{"add", 4, false},                   // 4 retired while it runs
			{"remove", 10, false},               // it releases the 10: the base falls to 4
			{"add", 9, false}, {"add", 1, true}, // a step above the 4 survivors
		}},
		{"a partial release lowers the base to the count", []op{{"add", 10, true}, {"mark", 0, false}, {"remove", 3, false}, {"add", 9, false}, {"add", 1, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pileup{step: 10}
			for i, o := range tt.ops {
				switch o.do {
				case "add":
					p.add(o.d)
				case "remove":
					p.remove(o.d)
				case "mark":
					p.mark()
				}
				if got := p.over(); got != o.over {
					t.Fatalf("after op %d (%s %d): count %d, base %d: over = %v, want %v", i, o.do, o.d, p.n.Load(), p.base.Load(), got, o.over)
				}
			}
		})
	}
}
