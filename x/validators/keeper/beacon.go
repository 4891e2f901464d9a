package keeper

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/binary"
	"errors"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"

	"github.com/cosmos/gogoproto/proto"

	codectypes "github.com/cosmos/cosmos-sdk/codec/types"
	sdk "github.com/cosmos/cosmos-sdk/types"
	txtypes "github.com/cosmos/cosmos-sdk/types/tx"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"

	"github.com/buildchain/buildchain/crypto/vrf"
	"github.com/buildchain/buildchain/x/validators/types"
)

// The beacon is the block's first transaction: a standard Cosmos SDK transaction (TxRaw)
// holding one MsgBeacon{authority, public_key, proof}, no signature and no fee, so that every
// transaction of every block decodes with the standard Cosmos tx decoder (CosmJS decodeTxRaw,
// explorers, the SDK's tx service) and executes with code 0. Its signer is the x/validators
// module account, which no key controls: nobody can send one (x/validators/proposal's ante
// handler also refuses it in CheckTx and simulation), only the proposer injects it.
//
// The public key is carried so that an authority without a registered key can bootstrap
// (trust on first use: only the real proposer can put a block at its slot, and the proof
// shows it holds the secret key); for an authority with a key it must equal that key.
//
// EncodeBeacon is the only encoding DecodeBeacon accepts (it re-encodes and compares), so a
// beacon's bytes are a function of (key, proof) and a proposer cannot vary them (memo, gas,
// extension options, unknown fields).

// BeaconGasLimit is the gas limit a beacon transaction carries: executing MsgBeacon reads two
// records. It is reported as the transaction's gas_wanted.
const BeaconGasLimit = 100_000

// beaconTypeURL is MsgBeacon's type URL, as it appears in the transaction body.
var beaconTypeURL = "/" + proto.MessageName(&types.MsgBeacon{})

// BeaconAuthority is the signer of every MsgBeacon: the x/validators module account.
func BeaconAuthority() string { return authtypes.NewModuleAddress(types.ModuleName).String() }

// IsBeaconTx reports whether tx holds a MsgBeacon (whether or not it is a valid beacon).
// Transactions that do not even mention MsgBeacon's type URL are skipped without decoding.
func IsBeaconTx(tx []byte) bool {
	if !bytes.Contains(tx, []byte(beaconTypeURL)) {
		return false
	}
	var raw txtypes.TxRaw
	if err := raw.Unmarshal(tx); err != nil {
		return false
	}
	var body txtypes.TxBody
	if err := body.Unmarshal(raw.BodyBytes); err != nil {
		return false
	}
	for _, m := range body.Messages {
		if m != nil && m.TypeUrl == beaconTypeURL {
			return true
		}
	}
	return false
}

// EncodeBeacon builds a beacon transaction.
func EncodeBeacon(pk vrf.PublicKey, proof []byte) []byte {
	msg, err := codectypes.NewAnyWithValue(&types.MsgBeacon{Authority: BeaconAuthority(), PublicKey: pk, Proof: proof})
	if err != nil {
		panic(err) // marshalling a fixed message type cannot fail
	}
	body, err := (&txtypes.TxBody{Messages: []*codectypes.Any{msg}}).Marshal()
	if err != nil {
		panic(err)
	}
	authInfo, err := (&txtypes.AuthInfo{Fee: &txtypes.Fee{GasLimit: BeaconGasLimit}}).Marshal()
	if err != nil {
		panic(err)
	}
	tx, err := (&txtypes.TxRaw{BodyBytes: body, AuthInfoBytes: authInfo}).Marshal()
	if err != nil {
		panic(err)
	}
	return tx
}

// DecodeBeacon splits a beacon transaction; anything but EncodeBeacon's output is refused.
func DecodeBeacon(tx []byte) (vrf.PublicKey, []byte, error) {
	var raw txtypes.TxRaw
	var body txtypes.TxBody
	if err := raw.Unmarshal(tx); err != nil {
		return nil, nil, errorsmod.Wrapf(types.ErrInvalidBeacon, "not a transaction: %s", err)
	}
	if err := body.Unmarshal(raw.BodyBytes); err != nil {
		return nil, nil, errorsmod.Wrapf(types.ErrInvalidBeacon, "transaction body: %s", err)
	}
	if len(body.Messages) != 1 || body.Messages[0] == nil || body.Messages[0].TypeUrl != beaconTypeURL {
		return nil, nil, errorsmod.Wrapf(types.ErrInvalidBeacon, "a beacon transaction holds exactly one %s", beaconTypeURL)
	}
	var msg types.MsgBeacon
	if err := msg.Unmarshal(body.Messages[0].Value); err != nil {
		return nil, nil, errorsmod.Wrapf(types.ErrInvalidBeacon, "MsgBeacon: %s", err)
	}
	if len(msg.PublicKey) != vrf.PublicKeySize || len(msg.Proof) != vrf.ProofSize {
		return nil, nil, errorsmod.Wrapf(types.ErrInvalidBeacon, "malformed beacon: %d-byte key, %d-byte proof", len(msg.PublicKey), len(msg.Proof))
	}
	if !bytes.Equal(tx, EncodeBeacon(msg.PublicKey, msg.Proof)) {
		return nil, nil, errorsmod.Wrap(types.ErrInvalidBeacon, "beacon transaction is not in canonical form (authority, fee, memo or extra fields differ)")
	}
	return vrf.PublicKey(msg.PublicKey), msg.Proof, nil
}

// Alpha is the VRF input of a block: prev_randomness ‖ height (big-endian uint64).
func Alpha(prev []byte, height int64) []byte {
	out := make([]byte, 0, len(prev)+8)
	out = append(out, prev...)
	return binary.BigEndian.AppendUint64(out, uint64(height))
}

// fallbackRandomness is used for blocks whose proposer has no active VRF key yet (chain
// bootstrap). It is a public function of the chain's history: unbiasable but predictable,
// which is why authorities register keys and every block from then on carries a VRF proof.
func fallbackRandomness(prev []byte, height int64, proposer sdk.ConsAddress) []byte {
	h := sha512.New()
	h.Write([]byte("buildchain/fallback-randomness/v1"))
	h.Write(Alpha(prev, height))
	h.Write(proposer)
	return h.Sum(nil)
}

// genesisRandomness seeds the beacon from the chain id when genesis gives none.
func genesisRandomness(chainID string) []byte {
	h := sha512.New()
	h.Write([]byte("buildchain/genesis-randomness/v1"))
	h.Write([]byte(chainID))
	return h.Sum(nil)
}

// scheduleVrfKey records pk as the authority's next key, active from now + delay.
func (k Keeper) scheduleVrfKey(ctx context.Context, cons sdk.ConsAddress, operator string, pk []byte) (int64, error) {
	if err := vrf.ValidatePublicKey(pk); err != nil {
		return 0, errorsmod.Wrap(types.ErrInvalidVrfKey, err.Error())
	}
	params, err := k.Params.Get(ctx)
	if err != nil {
		return 0, err
	}
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	rec, err := k.VrfKeys.Get(ctx, cons)
	if err != nil && !errors.Is(err, collections.ErrNotFound) {
		return 0, err
	}
	rec.Promote(height)
	rec.ConsensusAddress = cons.String()
	if operator != "" {
		rec.Operator = operator
	}
	rec.NextPublicKey = append([]byte(nil), pk...)
	rec.NextActivationHeight = height + int64(params.VrfKeyActivationDelay)
	if err := k.VrfKeys.Set(ctx, cons, rec); err != nil {
		return 0, err
	}
	return rec.NextActivationHeight, sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(&types.EventVrfKeyRegistered{
		ConsensusAddress: rec.ConsensusAddress, Operator: rec.Operator, PublicKey: pk, ActivationHeight: rec.NextActivationHeight,
	})
}

// beaconPlan says what the proposer of height must (or may) put in its block.
type beaconPlan struct {
	activeKey []byte // non-nil: a proof under this key is required
	bootstrap bool   // no key known at all: a self-registering beacon is allowed
	prev      types.Randomness
}

func (k Keeper) planBeacon(ctx context.Context, proposer sdk.ConsAddress, height int64) (beaconPlan, error) {
	prev, err := k.LastRandomness.Get(ctx)
	if err != nil {
		return beaconPlan{}, errorsmod.Wrap(err, "reading last randomness")
	}
	rec, err := k.VrfKeys.Get(ctx, proposer)
	if errors.Is(err, collections.ErrNotFound) {
		return beaconPlan{bootstrap: true, prev: prev}, nil
	}
	if err != nil {
		return beaconPlan{}, err
	}
	return beaconPlan{activeKey: rec.KeyAt(height), prev: prev}, nil
}

// BuildBeacon returns the beacon transaction the local node must add to a block it proposes
// at height, or nil when none is needed (its key is registered but not active yet).
func (k Keeper) BuildBeacon(ctx context.Context, key vrf.PrivateKey, proposer sdk.ConsAddress, height int64) ([]byte, error) {
	if key.IsZero() {
		return nil, errorsmod.Wrap(types.ErrInvalidBeacon, "this node has no VRF key")
	}
	plan, err := k.planBeacon(ctx, proposer, height)
	if err != nil {
		return nil, err
	}
	switch {
	case plan.activeKey != nil:
		if !key.Public().Equal(plan.activeKey) {
			return nil, errorsmod.Wrapf(types.ErrInvalidVrfKey,
				"the local VRF key %x is not the key %x registered for proposer %s", key.Public(), plan.activeKey, proposer)
		}
	case !plan.bootstrap:
		return nil, nil
	}
	return EncodeBeacon(key.Public(), key.Prove(Alpha(plan.prev.Value, height))), nil
}

// VerifyBeacon checks a proposed block's transactions: a beacon may only be the first
// transaction; it is required (with a valid proof under the registered key) when the proposer
// has an active VRF key, allowed as self-registration when the proposer has no key record,
// and refused otherwise. It returns the beacon's VRF output (nil without a proof).
func (k Keeper) VerifyBeacon(ctx context.Context, txs [][]byte, proposer sdk.ConsAddress, height int64) (beta []byte, err error) {
	for i := 1; i < len(txs); i++ {
		if IsBeaconTx(txs[i]) {
			return nil, errorsmod.Wrapf(types.ErrInvalidBeacon, "beacon at position %d; only the first transaction may be one", i)
		}
	}
	plan, err := k.planBeacon(ctx, proposer, height)
	if err != nil {
		return nil, err
	}
	var beacon []byte
	if len(txs) > 0 && IsBeaconTx(txs[0]) {
		beacon = txs[0]
	}
	switch {
	case plan.activeKey != nil && beacon == nil:
		return nil, errorsmod.Wrapf(types.ErrInvalidBeacon, "missing VRF proof of proposer %s", proposer)
	case plan.activeKey == nil && !plan.bootstrap && beacon != nil:
		return nil, errorsmod.Wrapf(types.ErrInvalidBeacon, "proposer %s has a VRF key pending activation and must not send a beacon", proposer)
	case beacon == nil:
		return nil, nil
	}
	pk, proof, err := DecodeBeacon(beacon)
	if err != nil {
		return nil, err
	}
	if plan.activeKey != nil && !pk.Equal(plan.activeKey) {
		return nil, errorsmod.Wrapf(types.ErrInvalidBeacon, "beacon key %x is not the key %x registered for proposer %s", []byte(pk), plan.activeKey, proposer)
	}
	out, err := vrf.Verify(pk, proof, Alpha(plan.prev.Value, height))
	if err != nil {
		return nil, errorsmod.Wrapf(types.ErrInvalidBeacon, "proof of proposer %s at height %d: %s", proposer, height, err)
	}
	return out, nil
}

// ApplyBeacon runs at the start of FinalizeBlock (PreBlocker): it records the block's
// randomness (the verified VRF output, or the fallback when the proposer has no active key)
// and self-registers a bootstrap key. A block that reached FinalizeBlock passed
// ProcessProposal at ≥2/3 of the voting power, so a failing beacon here is only possible for
// a byzantine supermajority; the block then gets fallback randomness rather than halting.
func (k Keeper) ApplyBeacon(ctx context.Context, txs [][]byte, proposer sdk.ConsAddress, height int64) error {
	plan, err := k.planBeacon(ctx, proposer, height)
	if err != nil {
		return err
	}
	beta, verr := k.VerifyBeacon(ctx, txs, proposer, height)
	if verr != nil {
		k.logger(ctx).Error("invalid VRF beacon in a committed block; using fallback randomness", "height", height, "err", verr)
		beta = nil
	}
	r := types.Randomness{Height: height, Proposer: proposer.String()}
	if beta != nil {
		pk, proof, _ := DecodeBeacon(txs[0])
		if plan.bootstrap {
			// First key of this authority: usable only after the activation delay, so this
			// block (whose key the proposer chose knowing alpha) gets fallback randomness.
			if _, err := k.scheduleVrfKey(ctx, proposer, "", pk); err != nil {
				return err
			}
		} else {
			r.Value, r.Proof, r.FromVrf = beta, append([]byte(nil), proof...), true
			if rec, err := k.VrfKeys.Get(ctx, proposer); err == nil && len(rec.NextPublicKey) > 0 && height >= rec.NextActivationHeight {
				rec.Promote(height)
				if err := k.VrfKeys.Set(ctx, proposer, rec); err != nil {
					return err
				}
			}
		}
	}
	if !r.FromVrf {
		r.Value = fallbackRandomness(plan.prev.Value, height, proposer)
	}
	if err := k.Randomness.Set(ctx, height, r); err != nil {
		return err
	}
	if err := k.LastRandomness.Set(ctx, r); err != nil {
		return err
	}
	if old := height - types.RandomnessHistoryBlocks; old > 0 {
		if err := k.Randomness.Remove(ctx, old); err != nil {
			return err
		}
	}
	return nil
}

// BlockRandomness returns the randomness of the current block (set by ApplyBeacon), or the
// latest one when the current block has none (unit tests without the PreBlocker).
func (k Keeper) BlockRandomness(ctx context.Context) ([]byte, error) {
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	r, err := k.Randomness.Get(ctx, height)
	if err == nil {
		return r.Value, nil
	}
	if !errors.Is(err, collections.ErrNotFound) {
		return nil, err
	}
	last, err := k.LastRandomness.Get(ctx)
	if err != nil {
		return nil, errorsmod.Wrap(err, "no randomness yet")
	}
	return last.Value, nil
}

// SetBlockRandomness records value as the randomness of the current block (tests and tools).
func (k Keeper) SetBlockRandomness(ctx context.Context, value []byte) error {
	r := types.Randomness{Height: sdk.UnwrapSDKContext(ctx).BlockHeight(), Value: append([]byte(nil), value...)}
	if err := k.Randomness.Set(ctx, r.Height, r); err != nil {
		return err
	}
	return k.LastRandomness.Set(ctx, r)
}
