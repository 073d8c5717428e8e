package index_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stru-index/stru/index"
)

// sameMatch returns keys made by name(i), i = 0, 1, …, until two have the
// same tag, under the golden hash key. The keys name makes must all have
// the same length field, so that the two have the same Match.
func sameMatch(t *testing.T, name func(i int) string) (a, b string) {
	t.Helper()
	k0, k1 := sipRefKey.Halves()
	seen := map[uint64]string{}
	for i := range 1 << 20 {
		k := name(i)
		tag := index.Tag(index.Hash(k0, k1, []byte(k)))
		if other, ok := seen[tag]; ok {
			return other, k
		}
		seen[tag] = k
	}
	t.Fatal("no two keys with the same tag")
	return "", ""
}

// matching returns the first key name(i), i = 0, 1, …, with the same Match
// as key under the golden hash key.
func matching(t *testing.T, key string, name func(i int) string) string {
	t.Helper()
	k0, k1 := sipRefKey.Halves()
	want := index.Match(index.Hash(k0, k1, []byte(key)), uint64(len(key)))
	for i := range 1 << 24 {
		k := name(i)
		if index.Match(index.Hash(k0, k1, []byte(k)), uint64(len(k))) == want {
			return k
		}
	}
	t.Fatalf("no key with the Match of %q", key)
	return ""
}

// checkLookups checks, for every key of keys, which must be the file's
// keys in order, and of absent, which must not be in it, that Has is true
// exactly when Find's ok is, that Find gives the key's ordinal, that
// HasHashed and FindHashed agree, and that FindBatch answers as Has.
func checkLookups(t *testing.T, v *index.View, keys, absent []string) {
	t.Helper()
	all := slices.Concat(keys, absent)
	batch := make([][]byte, len(all))
	for i, k := range all {
		batch[i] = []byte(k)
		wantOrd, want := uint64(i), i < len(keys)
		if !want {
			wantOrd = 0
		}
		has := v.Has([]byte(k))
		ord, ok := v.Find([]byte(k))
		if has != want || ok != want || ord != wantOrd {
			t.Errorf("Has(%.20q…, %d bytes) = %v, Find = %d, %v; want %v, and %d, %v", k, len(k), has, ord, ok, want, wantOrd, want)
		}
		h := v.HashOf([]byte(k))
		if got := v.HasHashed([]byte(k), h); got != has {
			t.Errorf("HasHashed(%.20q…) = %v, Has gives %v", k, got, has)
		}
		if gotOrd, gotOK := v.FindHashed([]byte(k), h); gotOrd != ord || gotOK != ok {
			t.Errorf("FindHashed(%.20q…) = %d, %v; Find gives %d, %v", k, gotOrd, gotOK, ord, ok)
		}
	}
	present := make([]bool, len(all))
	v.FindBatch(batch, present)
	for i, k := range all {
		if want := i < len(keys); present[i] != want {
			t.Errorf("FindBatch: %.20q… (%d bytes) present = %v, want %v", k, len(k), present[i], want)
		}
	}
}

// TestHasFind checks Has against Find, and both against the set, with and
// without the vector code, where lookups meet slots whose tag and length
// field (Match) are the key's but whose key is another (format.md §4): a
// file of one bucket, which is both buckets of every key, holding two
// short keys with the same Match and two keys of 255 bytes or more with
// the same tag (their length fields are both 255, whatever their lengths),
// looked up along with absent keys with the Match of present ones. Then a
// file of many keys, short and long, at a high load factor.
func TestHasFind(t *testing.T) {
	s1, s2 := sameMatch(t, func(i int) string { return fmt.Sprintf("s%06d", i) })
	long := strings.Repeat("L", 255)
	l1, l2 := sameMatch(t, func(i int) string { return long + fmt.Sprint(i) })
	keys := []string{"", s1, s2, l1, l2, strings.Repeat("w", 254), "x"}
	slices.Sort(keys)
	absent := []string{
		matching(t, s1, func(i int) string { return fmt.Sprintf("t%06d", i) }),
		matching(t, s2, func(i int) string { return fmt.Sprintf("u%06d", i) }),
		matching(t, l1, func(i int) string { return strings.Repeat("M", 300) + fmt.Sprint(i) }),
		matching(t, l1, func(i int) string { return long + fmt.Sprintf("x%d", i) }),
		long, long[:254], s1[:6], s1 + "0", l1[:len(l1)-1], "\x00",
	}
	for _, k := range absent {
		if slices.Contains(keys, k) {
			t.Fatalf("%q is both present and absent", k)
		}
	}
	t.Logf("same Match: %q and %q; %q… and %q… (%d and %d bytes); absent %q, %q", s1, s2, l1[250:], l2[250:], len(l1), len(l2), absent[0], absent[1])

	spec := writeFromSpec(keys, sipRefKey, 1, 1, 4, 2)
	built := buildFile(t, keys, 0.9)
	for name, f := range map[string][]byte{"written from format.md": spec, "built": built} {
		t.Run(name, func(t *testing.T) {
			probePaths(t, func(t *testing.T) {
				v, err := index.NewView(f, "")
				if err != nil {
					t.Fatal(err)
				}
				if err := v.Verify(); err != nil {
					t.Fatal(err)
				}
				if v.Header.Buckets != 1 {
					t.Fatalf("%d buckets, the test needs 1", v.Header.Buckets)
				}
				checkLookups(t, &v, keys, absent)
			})
		})
	}

	many := slices.Concat(manyKeys(2000), longKeys(60), keys)
	slices.Sort(many)
	many = slices.Compact(many)
	absentMany := slices.Concat(absent, longKeys(70)[60:])
	for i := range 500 {
		absentMany = append(absentMany, fmt.Sprintf("key %d", i*7919+1))
	}
	f := buildFile(t, many, 0.95)
	t.Run("many keys", func(t *testing.T) {
		probePaths(t, func(t *testing.T) {
			v, err := index.NewView(f, "")
			if err != nil {
				t.Fatal(err)
			}
			if v.SecondBucketKeys() == 0 {
				t.Fatal("no key in its second bucket")
			}
			checkLookups(t, &v, many, absentMany)
		})
	})
}

// TestLongKeyLookup checks what a lookup reads (format.md §4): for a key
// of fewer than 255 bytes, the key data at the offset in its slot and
// nothing else; for a key of 255 bytes or more, whose length the slot does
// not hold, the key's ordinal, found by searching the offset table
// for the slot's offset, and that key's offset and length. Each case
// damages a file of one bucket without resealing it (lookups do not check
// checksums) and checks which keys Has still finds, with and without the
// vector code, and that FindBatch agrees.
func TestLongKeyLookup(t *testing.T) {
	w254, x255, x300 := strings.Repeat("w", 254), strings.Repeat("x", 255), strings.Repeat("x", 300)
	keys := []string{"a", "b", w254, x255, x300} // offsets 0, 1, 2, 256, 511
	offs := []uint64{0, 1, 2, 256, 511}
	keyEnd := offs[4] + uint64(len(x300)) // the size of the key data
	f := writeFromSpec(keys, sipRefKey, 1, 1, 4, 2)
	if f == nil {
		t.Fatal("writeFromSpec failed")
	}
	k0, k1 := sipRefKey.Halves()
	if index.Tag(index.Hash(k0, k1, []byte(x255))) == index.Tag(index.Hash(k0, k1, []byte(x300))) {
		t.Fatal("the two long keys have the same tag")
	}
	const buckets, offsets = 128, 192 // one bucket; offsets of 4 bytes
	slotAt := func(i int) int { return buckets + 8*i }
	// pointAt returns a change that makes key i's slot point at offset off.
	pointAt := func(i int, off uint64) func([]byte) []byte {
		return func(f []byte) []byte {
			s := le.Uint64(f[slotAt(i):])
			le.PutUint64(f[slotAt(i):], s&^(1<<40-1)|(off+1))
			return f
		}
	}
	for _, c := range []struct {
		name   string
		change func([]byte) []byte
		has    map[string]bool // the keys checked, and whether Has finds them
	}{
		{"intact", func(f []byte) []byte { return f },
			map[string]bool{"a": true, "b": true, w254: true, x255: true, x300: true}},
		// Short keys never read the offset table.
		{"offset table of the short keys garbled", all(put(offsets, 4, 700), put(offsets+4, 4, 3), put(offsets+8, 4, 0)),
			map[string]bool{"a": true, "b": true, w254: true}},
		// A long key's entry in the offset table no longer its offset.
		{"offsets of the 254- and 255-byte keys one more", both(put(offsets+8, 4, 3), put(offsets+12, 4, 257)),
			map[string]bool{"a": true, "b": true, w254: true, x255: false, x300: true}},
		{"offset of the 300-byte key one less", put(offsets+16, 4, 510),
			map[string]bool{w254: true, x300: false}},
		// A long key's slot points at another key, or inside one.
		{"255-byte key's slot at the 300-byte key", pointAt(3, offs[4]),
			map[string]bool{"a": true, "b": true, w254: true, x255: false, x300: true}},
		{"255-byte key's slot inside it", pointAt(3, offs[3]+1),
			map[string]bool{x255: false, x300: true}},
		{"300-byte key's slot at the 255-byte key", pointAt(4, offs[3]),
			map[string]bool{x255: true, x300: false}},
		// A short key's slot points at other bytes.
		{"b's slot at a", pointAt(1, offs[0]), map[string]bool{"a": true, "b": false, w254: true}},
		{"254-byte key's slot one byte further", pointAt(2, offs[2]+1), map[string]bool{w254: false, x255: true}},
		// A short key's slot points inside the key data, but the key would
		// run past its end: FindBatch, which prefetches the key's last
		// byte, must leave such a slot to Has.
		{"254-byte key's slot 10 bytes before the end of the key data", pointAt(2, keyEnd-10),
			map[string]bool{"a": true, w254: false, x255: true}},
		{"b's slot at the end of the key data", pointAt(1, keyEnd), map[string]bool{"a": true, "b": false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			probePaths(t, func(t *testing.T) {
				d := c.change(slices.Clone(f))
				v, err := index.NewView(d, "")
				if err != nil {
					t.Fatal(err)
				}
				batch := make([][]byte, 0, len(c.has))
				for _, k := range keys {
					if want, ok := c.has[k]; ok {
						if got := v.Has([]byte(k)); got != want {
							t.Errorf("Has(%.10q…, %d bytes) = %v, want %v", k, len(k), got, want)
						}
						batch = append(batch, []byte(k))
					}
				}
				present := make([]bool, len(batch))
				v.FindBatch(batch, present)
				for i, k := range batch {
					if want := c.has[string(k)]; present[i] != want {
						t.Errorf("FindBatch: %.10q… (%d bytes) present = %v, want %v", k, len(k), present[i], want)
					}
				}
				if c.name == "intact" {
					for i, k := range keys {
						if ord, ok := v.Find([]byte(k)); !ok || ord != uint64(i) {
							t.Errorf("Find(%.10q…) = %d, %v; want %d, true", k, ord, ok, i)
						}
					}
				}
			})
		})
	}
}

// TestFindOrdinalLengths checks that Find gives every key's ordinal, which
// it finds by searching the offset table for the key's offset (format.md
// §4), however the lengths of the keys run — the search interpolates
// between offsets, and must not go wrong where they do not rise evenly —
// and for numbers of keys around the largest table it only bisects (4096).
func TestFindOrdinalLengths(t *testing.T) {
	lengths := map[string]func(i, n int) int{
		"all 16 bytes":       func(i, n int) int { return 16 },
		"random 8 to 70":     func(i, n int) int { return 8 + int(uint64(i)*0x9E3779B97F4A7C15>>58) },
		"8 then 600":         func(i, n int) int { return map[bool]int{true: 8, false: 600}[i < n/2] },
		"600 then 8":         func(i, n int) int { return map[bool]int{true: 600, false: 8}[i < n/2] },
		"rising to 2000":     func(i, n int) int { return 8 + 2000*i*i/(n*n) },
		"one of 60000 bytes": func(i, n int) int { return map[bool]int{true: 60000, false: 10}[i == n/3] },
		"sawtooth 8 to 503":  func(i, n int) int { return 8 + (i%100)*5 },
		"every 64th is 5000": func(i, n int) int { return map[bool]int{true: 5000, false: 9}[i%64 == 63] },
	}
	for name, length := range lengths {
		for _, n := range []int{1, 2, 3, 33, 4096, 4097, 5000} {
			keys := make([]string, n)
			for i := range keys {
				k := fmt.Sprintf("%07d", i) // sorts as i does
				keys[i] = k + strings.Repeat("k", max(length(i, n), len(k))-len(k))
			}
			keys[0] = "" // the empty key, which shares its offset with the next
			f := buildFile(t, keys, 0.8)
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				v, err := index.NewView(f, "")
				if err != nil {
					t.Fatal(err)
				}
				absent := []string{keys[n-1] + "k", "0000000x"}
				checkLookups(t, &v, keys, absent)
			})
		}
	}
}

// TestFindDamagedOffsets damages the offset table of files large enough
// for the search of a key's ordinal to interpolate (format.md §4), with 4-
// and 8-byte offsets, and checks that Has, Find and FindBatch still answer
// without a panic, that an ordinal Find reports is below Len, and that the
// undamaged files answer every key with its ordinal. A damaged table may
// hold any value: offsets out of order, all equal, beyond the key data, or
// 2^64-1.
func TestFindDamagedOffsets(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	keys := make([]string, 6000)
	for i := range keys {
		n := r.IntN(40)
		if i%500 == 7 {
			n = 300 // a long key: Has too searches for its ordinal
		}
		keys[i] = fmt.Sprintf("%05d", i) + strings.Repeat("d", n)
	}
	absent := []string{"x", "00001", keys[7] + "d", keys[6] + "e"}
	damages := map[string]func(offs []uint64, keyBytes uint64){
		"random values": func(offs []uint64, keyBytes uint64) {
			for i := range offs {
				offs[i] = r.Uint64N(keyBytes + 10)
			}
		},
		"a few random values": func(offs []uint64, keyBytes uint64) {
			for range 20 {
				offs[r.IntN(len(offs))] = r.Uint64N(keyBytes)
			}
		},
		"descending": func(offs []uint64, keyBytes uint64) { slices.Reverse(offs) },
		"all equal":  func(offs []uint64, keyBytes uint64) { clear(offs) },
		"the largest": func(offs []uint64, keyBytes uint64) {
			for i := range offs {
				offs[i] = math.MaxUint64
			}
		},
		"a jump past the key data": func(offs []uint64, keyBytes uint64) {
			for i := len(offs) / 3; i < len(offs); i++ {
				offs[i] += keyBytes
			}
		},
	}
	for _, width := range []uint8{4, 8} {
		file := writeFromSpec(keys, sipRefKey, 3000, 16, width, 2)
		if file == nil {
			t.Fatal("writeFromSpec: both buckets of a key full")
		}
		v, err := index.NewView(file, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Verify(); err != nil {
			t.Fatal(err)
		}
		checkLookups(t, &v, keys, absent)
		sec := v.Layout[index.SectionOffsets]
		for name, damage := range damages {
			t.Run(fmt.Sprintf("%d-byte offsets/%s", width, name), func(t *testing.T) {
				offs := make([]uint64, len(keys)) // the table as written: each key starts where the last ended
				for i := 1; i < len(keys); i++ {
					offs[i] = offs[i-1] + uint64(len(keys[i-1]))
				}
				damage(offs, v.Header.KeyBytes)
				damaged := slices.Clone(file)
				for i, o := range offs {
					put(int(sec.Off)+i*int(width), int(width), o)(damaged)
				}
				dv, err := index.NewView(damaged, "damaged.stru")
				if err != nil {
					t.Fatal(err)
				}
				batch := byteKeys(keys, absent)
				for _, k := range batch {
					dv.Has(k)
					if ord, ok := dv.Find(k); ok && ord >= dv.Len() {
						t.Fatalf("Find(%.12q…) = %d, true, with Len %d", k, ord, dv.Len())
					}
				}
				dv.FindBatch(batch, make([]bool, len(batch)))
			})
		}
	}
}

// byteKeys returns the keys of the lists, in order, as byte slices.
func byteKeys(lists ...[]string) [][]byte {
	var b [][]byte
	for _, l := range lists {
		for _, k := range l {
			b = append(b, []byte(k))
		}
	}
	return b
}
