#include "textflag.h"

// SipHash-2-4 of eight keys at once (hashlanes_amd64.go), one key to each
// 64-bit lane of the AVX-512 registers: Z0–Z3 hold the lanes' v0–v3, and
// each instruction of a SipRound works on all eight. The message words of
// the keys are read with a gather, one load per lane, masked so that it
// reads only the whole words of each key and nothing outside it.

// The offsets of the eight slice headers of a [8][]byte: 24 bytes apart.
DATA sliceOffsets<>+0(SB)/8, $0
DATA sliceOffsets<>+8(SB)/8, $24
DATA sliceOffsets<>+16(SB)/8, $48
DATA sliceOffsets<>+24(SB)/8, $72
DATA sliceOffsets<>+32(SB)/8, $96
DATA sliceOffsets<>+40(SB)/8, $120
DATA sliceOffsets<>+48(SB)/8, $144
DATA sliceOffsets<>+56(SB)/8, $168
GLOBL sliceOffsets<>(SB), RODATA|NOPTR, $64

// SIPROUND is one SipRound on the states (v0, v1, v2, v3) = (Z0, Z1, Z2, Z3)
// of the lanes in the mask M; the other lanes keep their state.
#define SIPROUND(M) \
	VPADDQ	Z1, Z0, M, Z0; \
	VPADDQ	Z3, Z2, M, Z2; \
	VPROLQ	$13, Z1, M, Z1; \
	VPROLQ	$16, Z3, M, Z3; \
	VPXORQ	Z0, Z1, M, Z1; \
	VPXORQ	Z2, Z3, M, Z3; \
	VPROLQ	$32, Z0, M, Z0; \
	VPADDQ	Z1, Z2, M, Z2; \
	VPADDQ	Z3, Z0, M, Z0; \
	VPROLQ	$17, Z1, M, Z1; \
	VPROLQ	$21, Z3, M, Z3; \
	VPXORQ	Z2, Z1, M, Z1; \
	VPXORQ	Z0, Z3, M, Z3; \
	VPROLQ	$32, Z2, M, Z2

// func sipHash8(k0, k1 uint64, keys *[8][]byte, last *[8]uint64, words int, out *[8]uint64)
TEXT ·sipHash8(SB), NOSPLIT, $0-48
	MOVQ	k0+0(FP), AX
	MOVQ	k1+8(FP), BX
	MOVQ	keys+16(FP), SI
	MOVQ	last+24(FP), DI
	MOVQ	words+32(FP), CX
	MOVQ	out+40(FP), DX

	// The initial state, the same in every lane.
	MOVQ	$0x736f6d6570736575, R8
	XORQ	AX, R8
	VPBROADCASTQ	R8, Z0
	MOVQ	$0x646f72616e646f6d, R8
	XORQ	BX, R8
	VPBROADCASTQ	R8, Z1
	MOVQ	$0x6c7967656e657261, R8
	XORQ	AX, R8
	VPBROADCASTQ	R8, Z2
	MOVQ	$0x7465646279746573, R8
	XORQ	BX, R8
	VPBROADCASTQ	R8, Z3

	// Z11: each lane's key pointer, then the address of its next whole
	// word; Z6: its number of whole words, len/8; Z7: its last word.
	VMOVDQU64	sliceOffsets<>(SB), Z8
	KXNORW	K1, K1, K1
	VPGATHERQQ	(SI)(Z8*1), K1, Z11
	KXNORW	K1, K1, K1
	VPGATHERQQ	8(SI)(Z8*1), K1, Z6
	VPSRLQ	$3, Z6, Z6
	VMOVDQU64	(DI), Z7

	VPXORQ	Z9, Z9, Z9	// Z9: the word index j, in every lane
	MOVQ	$1, R8
	VPBROADCASTQ	R8, Z10
	MOVQ	$8, R8
	VPBROADCASTQ	R8, Z12
	XORQ	R9, R9	// the gather's base: Z11 holds whole addresses

loop:
	// K1: the lanes whose word j is a whole word of the key (j < len/8);
	// K2: those whose word j is the last word (j == len/8); K3: both.
	VPCMPUQ	$1, Z6, Z9, K1
	VPCMPUQ	$0, Z6, Z9, K2
	KORW	K1, K2, K3
	VPXORQ	Z4, Z4, Z4
	KMOVW	K1, K4	// the gather clears its mask
	VPGATHERQQ	(R9)(Z11*1), K4, Z4
	VMOVDQA64	Z7, K2, Z4
	// Z4 is the word m in the lanes of K3 and 0 in the others, which stand
	// still in the rounds.
	VPXORQ	Z4, Z3, Z3
	SIPROUND(K3)
	SIPROUND(K3)
	VPXORQ	Z4, Z0, Z0
	VPADDQ	Z10, Z9, Z9
	VPADDQ	Z12, Z11, Z11
	DECQ	CX
	JNZ	loop

	// Finalization, in every lane.
	MOVQ	$0xff, R8
	VPBROADCASTQ	R8, Z13
	VPXORQ	Z13, Z2, Z2
	KXNORW	K5, K5, K5
	SIPROUND(K5)
	SIPROUND(K5)
	SIPROUND(K5)
	SIPROUND(K5)
	VPXORQ	Z1, Z0, Z0
	VPXORQ	Z3, Z2, Z2
	VPXORQ	Z2, Z0, Z0
	VMOVDQU64	Z0, (DX)
	VZEROUPPER
	RET
