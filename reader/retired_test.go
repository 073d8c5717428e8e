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

// TestCollectorClaim checks when a collector starts a collection: when
// retired mappings have piled up or a Handle has replaced a Reader, and
// none is running. A replacement made while one runs starts another when
// it ends, even if that one's releases came first: it may have started
// before the Reader was replaced, and nothing else would collect it in a
// process whose heap does not grow.
func TestCollectorClaim(t *testing.T) {
	type op struct {
		do    string // "replace", "retire", "release" (of a retired mapping), "end" (of the running collection) or "claim"
		claim bool   // for "claim": whether a collection is due and none running
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{"nothing due", []op{{"claim", false}}},
		{"a replacement", []op{{"replace", false}, {"claim", true}, {"claim", false}, {"end", false}, {"claim", false}}},
		{"replacements while one runs", []op{
			{"replace", false}, {"claim", true},
			{"replace", false}, {"replace", false}, {"claim", false},
			{"end", false}, {"claim", true}, {"end", false}, {"claim", false},
		}},
		{"a replacement while one runs, then its releases", []op{
			{"retire", false}, {"retire", false}, {"replace", false}, {"claim", true},
			{"replace", false},
			{"release", false}, {"release", false},
			{"end", false}, {"claim", true},
		}},
		{"retired mappings a step above the base", []op{
			{"retire", false}, {"claim", false}, {"retire", false}, {"claim", true}, {"end", false}, {"claim", false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := collector{retiredMappings: pileup{step: 2}, retiredBytes: pileup{step: 1 << 40}}
			for i, o := range tt.ops {
				switch o.do {
				case "replace":
					c.replaced.Add(1)
				case "retire":
					c.retiredMappings.add(1)
					c.retiredBytes.add(4096)
				case "release":
					c.retiredMappings.remove(1)
					c.retiredBytes.remove(4096)
				case "end":
					c.running.Store(false)
				case "claim":
					if got := c.claim(); got != o.claim {
						t.Fatalf("op %d: claim = %v, want %v", i, got, o.claim)
					}
				}
			}
		})
	}
}
