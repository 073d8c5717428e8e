#include "textflag.h"

// probe (probe_amd64.go): the SipHash-2-4 of one key, computed in two
// 64-bit lanes of an XMM register pair, then the key's two buckets and
// the slots in them that hold its tag.
//
// The SipHash state lives in X0 = (v0, v2) and X1 = (v1, v3). A SipRound
// is then eight instructions rather than fourteen, and none of them uses
// an integer register: the integer instructions of the lookups that follow
// can run while this one's hash is computed (see probe.go).

// Each lane's rotation in the first and second half of a SipRound.
DATA probeRot1<>+0(SB)/8, $13
DATA probeRot1<>+8(SB)/8, $16
GLOBL probeRot1<>(SB), RODATA|NOPTR, $16
DATA probeRot2<>+0(SB)/8, $17
DATA probeRot2<>+8(SB)/8, $21
GLOBL probeRot2<>(SB), RODATA|NOPTR, $16

// SipHash's initialization constants, in the lanes of (v0, v2) and (v1, v3).
DATA probeInit02<>+0(SB)/8, $0x736f6d6570736575
DATA probeInit02<>+8(SB)/8, $0x6c7967656e657261
GLOBL probeInit02<>(SB), RODATA|NOPTR, $16
DATA probeInit13<>+0(SB)/8, $0x646f72616e646f6d
DATA probeInit13<>+8(SB)/8, $0x7465646279746573
GLOBL probeInit13<>(SB), RODATA|NOPTR, $16

// The finalization's v2 ^= 0xff, in the lanes of (v0, v2).
DATA probeFinal<>+0(SB)/8, $0
DATA probeFinal<>+8(SB)/8, $0xff
GLOBL probeFinal<>(SB), RODATA|NOPTR, $16

// ROUND is one SipRound on X0 = (v0, v2), X1 = (v1, v3), with the rotation
// counts in X14 and X15. VPSHUFD $0x1E both swaps the lanes of X0 and
// rotates the one that moves up by 32 bits: after the first, X0 is
// (v2, v0<<<32), the order the second half adds and xors in; after the
// second, it is (v0, v2<<<32) again.
#define ROUND \
	VPADDQ	X1, X0, X0; \
	VPROLVQ	X14, X1, X1; \
	VPXORQ	X0, X1, X1; \
	VPSHUFD	$0x1E, X0, X0; \
	VPADDQ	X1, X0, X0; \
	VPROLVQ	X15, X1, X1; \
	VPXORQ	X0, X1, X1; \
	VPSHUFD	$0x1E, X0, X0

// COMPRESS compresses the message word m, which is in both lanes of X2:
// v3 ^= m (the high lane of X1, K5), two SipRounds, v0 ^= m (the low lane
// of X0, K4).
#define COMPRESS \
	VPXORQ	X2, X1, K5, X1; \
	ROUND; \
	ROUND; \
	VPXORQ	X2, X0, K4, X0

// func probe(k0, k1 uint64, key []byte, buckets *byte, blocks, perBlock uint64) (h, b1, b2, cand uint64)
TEXT ·probe(SB), NOSPLIT, $0-96
	VPBROADCASTQ	k0+0(FP), X0
	VPBROADCASTQ	k1+8(FP), X1
	VPXORQ	probeInit02<>(SB), X0, X0
	VPXORQ	probeInit13<>(SB), X1, X1
	VMOVDQU64	probeRot1<>(SB), X14
	VMOVDQU64	probeRot2<>(SB), X15
	MOVL	$1, AX
	KMOVW	AX, K4
	MOVL	$2, AX
	KMOVW	AX, K5
	MOVQ	key_base+16(FP), SI
	MOVQ	key_len+24(FP), DX

	// The whole words of the key: SI moves to their end, and CX counts
	// from -(len/8) up to 0.
	MOVQ	DX, CX
	SHRQ	$3, CX
	JZ	last
	LEAQ	(SI)(CX*8), SI
	NEGQ	CX
words:
	VPBROADCASTQ	(SI)(CX*8), X2
	COMPRESS
	INCQ	CX
	JNZ	words

last:
	// The last word: the len%8 bytes at SI, read with a masked load that
	// touches no byte past the key (none at all when len%8 is 0), and
	// len mod 256 in the top byte.
	MOVQ	DX, CX
	ANDQ	$7, CX
	MOVQ	$1, AX
	SHLQ	CX, AX
	DECQ	AX
	KMOVW	AX, K1
	VMOVDQU8.Z	(SI), K1, X2
	SHLQ	$56, DX
	VMOVQ	DX, X3
	VPORQ	X3, X2, X2
	VPBROADCASTQ	X2, X2
	COMPRESS

	// Finalization: v2 ^= 0xff, four SipRounds, h = v0^v1^v2^v3.
	VPXORQ	probeFinal<>(SB), X0, X0
	ROUND
	ROUND
	ROUND
	ROUND
	VPXORQ	X1, X0, X0
	VPSHUFD	$0x4E, X0, X1
	VPXORQ	X1, X0, X0
	VMOVQ	X0, R8
	MOVQ	R8, h+64(FP)

	// The buckets (index.bucketsIn): with k = hi(h·blocks),
	// b1 = k·perBlock + hi(lo(h·mul1)·perBlock), and b2 likewise with mul2.
	MOVQ	perBlock+56(FP), R10
	MOVQ	R8, AX
	MULQ	blocks+48(FP)
	IMULQ	R10, DX
	MOVQ	DX, R11
	MOVQ	$0x9E3779B97F4A7C15, AX
	IMULQ	R8, AX
	MULQ	R10
	LEAQ	(R11)(DX*1), R12
	MOVQ	$0xC2B2AE3D27D4EB4F, AX
	IMULQ	R8, AX
	MULQ	R10
	LEAQ	(R11)(DX*1), R13
	MOVQ	R12, b1+72(FP)
	MOVQ	R13, b2+80(FP)

	// Both buckets at once: K1/K2 the slots of each whose tag (top 16
	// bits) is h's low 16 bits, K3/K4 the empty (zero) slots.
	MOVQ	buckets+40(FP), DI
	SHLQ	$6, R12
	SHLQ	$6, R13
	ANDQ	$0xffff, R8
	VPBROADCASTQ	R8, Z2
	VMOVDQU64	(DI)(R12*1), Z4
	VMOVDQU64	(DI)(R13*1), Z5
	VPSRLQ	$48, Z4, Z6
	VPSRLQ	$48, Z5, Z7
	VPCMPEQQ	Z6, Z2, K1
	VPCMPEQQ	Z7, Z2, K2
	VPTESTNMQ	Z4, Z4, K3
	VPTESTNMQ	Z5, Z5, K4
	VZEROUPPER
	KMOVW	K1, AX
	KMOVW	K2, BX
	KMOVW	K3, CX
	KMOVW	K4, DX

	// A bucket's slots end at its first empty one: keep the matches
	// below it, (e ^ (e-1)) >> 1, or all eight when there is none. The
	// second bucket's count only when the first is full (no empty slot)
	// and is another bucket.
	BLSMSKL	DX, DX
	SHRL	$1, DX
	ANDL	DX, BX
	BLSMSKL	CX, R10
	SHRL	$1, R10
	ANDL	R10, AX
	XORL	R9, R9
	TESTL	CX, CX
	CMOVLNE	R9, BX
	CMPQ	R12, R13
	CMOVLEQ	R9, BX
	SHLL	$8, BX
	ORL	BX, AX
	MOVQ	AX, cand+88(FP)
	RET
