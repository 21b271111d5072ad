// Steps the vector kernels share (included by match/*_amd64.s).

// HMIN_UQ sets dst to the smallest of the eight unsigned 64-bit lanes of
// z (y and x are its 256- and 128-bit names; zt, yt, xt a scratch
// register's).
#define HMIN_UQ(z, y, x, zt, yt, xt, dst) \
	VEXTRACTI64X4 $1, z, yt; \
	VPMINUQ       yt, y, y; \
	VEXTRACTI128  $1, y, xt; \
	VPMINUQ       xt, x, x; \
	VPSHUFD       $0x4e, x, xt; \
	VPMINUQ       xt, x, x; \
	VMOVQ         x, dst

// ANGLE_DELTA_PD is angleDelta's loops on the float64 lanes of d: while
// d < -π add 2π, then while d ≥ π subtract 2π, two masked steps each
// (enough for the kernels' ranges); k is a scratch mask.
#define ANGLE_DELTA_PD(d, negpi, pi, twopi, k) \
	VCMPPD $0x11, negpi, d, k; \
	VADDPD twopi, d, k, d; \
	VCMPPD $0x11, negpi, d, k; \
	VADDPD twopi, d, k, d; \
	VCMPPD $0x1d, pi, d, k; \
	VSUBPD twopi, d, k, d; \
	VCMPPD $0x1d, pi, d, k; \
	VSUBPD twopi, d, k, d

// WRAP_PD is wrap's loops: while d ≥ π subtract 2π, then while d < -π
// add 2π, two masked steps each.
#define WRAP_PD(d, negpi, pi, twopi, k) \
	VCMPPD $0x1d, pi, d, k; \
	VSUBPD twopi, d, k, d; \
	VCMPPD $0x1d, pi, d, k; \
	VSUBPD twopi, d, k, d; \
	VCMPPD $0x11, negpi, d, k; \
	VADDPD twopi, d, k, d; \
	VCMPPD $0x11, negpi, d, k; \
	VADDPD twopi, d, k, d

// ADD8_SS adds to acc the eight float32 values at 0(SP)…28(SP), one
// after the other (as a scalar loop adds them).
#define ADD8_SS(acc) \
	VADDSS 0(SP), acc, acc; \
	VADDSS 4(SP), acc, acc; \
	VADDSS 8(SP), acc, acc; \
	VADDSS 12(SP), acc, acc; \
	VADDSS 16(SP), acc, acc; \
	VADDSS 20(SP), acc, acc; \
	VADDSS 24(SP), acc, acc; \
	VADDSS 28(SP), acc, acc

// LANES_LEFT sets k to the lanes of a step that exist: lane < n - j, with
// lanes the lane numbers (laneNumbers32) and tmp, ytmp a scratch GPR and
// vector register.
#define LANES_LEFT(n, j, lanes, tmp, ytmp, k) \
	MOVQ         n, tmp; \
	SUBQ         j, tmp; \
	VPBROADCASTD tmp, ytmp; \
	VPCMPD       $1, ytmp, lanes, k

// GATHER_PS gathers into dst the float32 at mem (base and index vector)
// for the lanes of K1, zero elsewhere (K2 scratch).
#define GATHER_PS(mem, dst) \
	KMOVW      K1, K2; \
	VPXORD     dst, dst, dst; \
	VGATHERDPS mem, K2, dst

