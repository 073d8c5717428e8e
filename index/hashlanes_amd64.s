#include "textflag.h"

// sipHash8: SipHash-2-4 of eight keys at once (hashlanes_amd64.go), one key to each
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

// sipHash4: SipHash-2-4 of four keys at once (hashlanes_amd64.go), one key
// to each 64-bit lane of the AVX2 registers: Y0–Y3 hold the lanes' v0–v3.
// AVX2 has neither masked arithmetic nor rotations: the lanes are aligned
// at their ends (a lane waits, at the initial state, until as many steps
// are left as it has words), and a rotation is two shifts and an or, or a
// byte shuffle for 16 bits and a dword shuffle for 32.

// The byte shuffle that rotates each 64-bit lane left by 16 bits.
DATA rot16<>+0(SB)/8, $0x0504030201000706
DATA rot16<>+8(SB)/8, $0x0d0c0b0a09080f0e
DATA rot16<>+16(SB)/8, $0x0504030201000706
DATA rot16<>+24(SB)/8, $0x0d0c0b0a09080f0e
GLOBL rot16<>(SB), RODATA|NOPTR, $32

// ROUND4 is one SipRound on the states (v0, v1, v2, v3) = (Y0, Y1, Y2, Y3)
// of all four lanes, with the rotation by 16 in Y8 and Y5, Y10 for scratch.
#define ROUND4 \
	VPADDQ	Y1, Y0, Y0; \
	VPADDQ	Y3, Y2, Y2; \
	VPSLLQ	$13, Y1, Y5; \
	VPSRLQ	$51, Y1, Y1; \
	VPOR	Y5, Y1, Y1; \
	VPSHUFB	Y8, Y3, Y3; \
	VPXOR	Y0, Y1, Y1; \
	VPXOR	Y2, Y3, Y3; \
	VPSHUFD	$0xB1, Y0, Y0; \
	VPADDQ	Y1, Y2, Y2; \
	VPADDQ	Y3, Y0, Y0; \
	VPSLLQ	$17, Y1, Y5; \
	VPSRLQ	$47, Y1, Y1; \
	VPOR	Y5, Y1, Y1; \
	VPSLLQ	$21, Y3, Y10; \
	VPSRLQ	$43, Y3, Y3; \
	VPOR	Y10, Y3, Y3; \
	VPXOR	Y2, Y1, Y1; \
	VPXOR	Y0, Y3, Y3; \
	VPSHUFD	$0xB1, Y2, Y2

// func sipHash4(k0, k1 uint64, keys *[4][]byte, last *[4]uint64, lag *[4]int64, steps int, out *[4]uint64)
TEXT ·sipHash4(SB), NOSPLIT, $128-56
	MOVQ	k0+0(FP), AX
	MOVQ	k1+8(FP), BX
	MOVQ	keys+16(FP), SI
	MOVQ	last+24(FP), DI
	MOVQ	lag+32(FP), R8
	MOVQ	steps+40(FP), CX
	MOVQ	out+48(FP), DX

	// The initial state, the same in every lane, also kept at 0(SP)..
	// 127(SP) to set waiting lanes back to.
	MOVQ	$0x736f6d6570736575, R10
	XORQ	AX, R10
	VMOVQ	R10, X0
	VPBROADCASTQ	X0, Y0
	MOVQ	$0x646f72616e646f6d, R10
	XORQ	BX, R10
	VMOVQ	R10, X1
	VPBROADCASTQ	X1, Y1
	MOVQ	$0x6c7967656e657261, R10
	XORQ	AX, R10
	VMOVQ	R10, X2
	VPBROADCASTQ	X2, Y2
	MOVQ	$0x7465646279746573, R10
	XORQ	BX, R10
	VMOVQ	R10, X3
	VPBROADCASTQ	X3, Y3
	VMOVDQU	Y0, 0(SP)
	VMOVDQU	Y1, 32(SP)
	VMOVDQU	Y2, 64(SP)
	VMOVDQU	Y3, 96(SP)
	VMOVDQU	rot16<>(SB), Y8
	VMOVDQU	(DI), Y7	// the lanes' last words
	TESTQ	CX, CX
	JZ	final

	// Y9: each lane's word index w at this step, lag[i] at the first, its
	// whole words being 0 ≤ w < len/8; Y11: the address of word w.
	MOVQ	0(SI), R10
	VMOVQ	R10, X11
	MOVQ	24(SI), R10
	VPINSRQ	$1, R10, X11, X11
	MOVQ	48(SI), R10
	VMOVQ	R10, X12
	MOVQ	72(SI), R10
	VPINSRQ	$1, R10, X12, X12
	VINSERTI128	$1, X12, Y11, Y11
	VMOVDQU	(R8), Y9
	VPSLLQ	$3, Y9, Y12
	VPADDQ	Y12, Y11, Y11
	VPCMPEQQ	Y14, Y14, Y14	// -1 in every lane
	VPXOR	Y6, Y6, Y6	// 0
	VPSRLQ	$63, Y14, Y12
	VPSLLQ	$3, Y12, Y12	// 8
	XORQ	R9, R9	// the gather's base: Y11 holds whole addresses

loop:
	// Y13: the lanes still waiting (w < 0); Y15: the others, whose word w
	// the gather reads into Y4 (it clears its mask). What the waiting
	// lanes compress does not matter: their state is set back after.
	VPCMPGTQ	Y9, Y6, Y13
	VPXOR	Y14, Y13, Y15
	VPGATHERQQ	Y15, (R9)(Y11*1), Y4
	VPXOR	Y4, Y3, Y3
	ROUND4
	ROUND4
	VPXOR	Y4, Y0, Y0
	VPBLENDVB	Y13, 0(SP), Y0, Y0
	VPBLENDVB	Y13, 32(SP), Y1, Y1
	VPBLENDVB	Y13, 64(SP), Y2, Y2
	VPBLENDVB	Y13, 96(SP), Y3, Y3
	VPSUBQ	Y14, Y9, Y9
	VPADDQ	Y12, Y11, Y11
	DECQ	CX
	JNZ	loop

final:
	// Every lane's last word, then the finalization.
	VPXOR	Y7, Y3, Y3
	ROUND4
	ROUND4
	VPXOR	Y7, Y0, Y0
	MOVQ	$0xff, R10
	VMOVQ	R10, X4
	VPBROADCASTQ	X4, Y4
	VPXOR	Y4, Y2, Y2
	ROUND4
	ROUND4
	ROUND4
	ROUND4
	VPXOR	Y1, Y0, Y0
	VPXOR	Y3, Y2, Y2
	VPXOR	Y2, Y0, Y0
	VMOVDQU	Y0, (DX)
	VZEROUPPER
	RET
