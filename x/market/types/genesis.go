package types

import (
	"fmt"

	errorsmod "cosmossdk.io/errors"
	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"
)

// NewGenesisState returns a genesis state with the given params and no markets.
func NewGenesisState(params Params) *GenesisState {
	return &GenesisState{Params: params, NextMarketId: 1}
}

// DefaultGenesis returns the default genesis state of the module.
func DefaultGenesis() *GenesisState {
	return NewGenesisState(DefaultParams())
}

// Validate checks the genesis state; InitGenesis refuses a state that fails it.
func (gs GenesisState) Validate() error {
	wrap := func(format string, a ...any) error { return errorsmod.Wrapf(ErrInvalidGenesis, format, a...) }
	if err := gs.Params.Validate(); err != nil {
		return wrap("%s", err)
	}
	if gs.NextMarketId == 0 {
		return wrap("next_market_id must be at least 1")
	}
	markets := map[uint64]Market{}
	for _, m := range gs.Markets {
		if m.Id == 0 || m.Id >= gs.NextMarketId {
			return wrap("market id %d outside [1, next_market_id %d)", m.Id, gs.NextMarketId)
		}
		if _, dup := markets[m.Id]; dup {
			return wrap("duplicate market %d", m.Id)
		}
		if m.Status != MARKET_STATUS_OPEN && m.Status != MARKET_STATUS_RESOLVED {
			return wrap("market %d has status %s", m.Id, m.Status)
		}
		if m.CommitEnd > m.RevealEnd {
			return wrap("market %d: commit_end %d after reveal_end %d", m.Id, m.CommitEnd, m.RevealEnd)
		}
		if m.TotalStake.IsNil() || m.TotalStake.IsNegative() || m.RevealedStake.IsNil() || m.RevealedStake.IsNegative() {
			return wrap("market %d: stakes must be non-negative", m.Id)
		}
		markets[m.Id] = m
	}
	type key struct {
		id   uint64
		addr string
	}
	seen := map[key]bool{}
	total := map[uint64]sdkmath.Int{}
	for _, p := range gs.Predictions {
		m, ok := markets[p.MarketId]
		if !ok {
			return wrap("prediction of unknown market %d", p.MarketId)
		}
		addr, err := sdk.AccAddressFromBech32(p.Predictor)
		if err != nil {
			return wrap("prediction predictor %q: %s", p.Predictor, err)
		}
		k := key{p.MarketId, string(addr)}
		if seen[k] {
			return wrap("duplicate prediction of %s in market %d", p.Predictor, p.MarketId)
		}
		seen[k] = true
		if len(p.CommitHash) != CommitHashLen || p.Stake.IsNil() || !p.Stake.IsPositive() {
			return wrap("prediction of %s in market %d: bad hash or stake", p.Predictor, p.MarketId)
		}
		if p.Revealed && !p.Outcome.Valid() {
			return wrap("prediction of %s in market %d: revealed invalid outcome", p.Predictor, p.MarketId)
		}
		if m.Status == MARKET_STATUS_OPEN {
			if t, ok := total[p.MarketId]; ok {
				total[p.MarketId] = t.Add(p.Stake)
			} else {
				total[p.MarketId] = p.Stake
			}
		}
	}
	for id, m := range markets {
		if m.Status != MARKET_STATUS_OPEN {
			continue
		}
		t, ok := total[id]
		if !ok {
			t = sdkmath.ZeroInt()
		}
		if !t.Equal(m.TotalStake) {
			return wrap("open market %d: total_stake %s but predictions sum to %s", id, m.TotalStake, t)
		}
	}
	return nil
}

// String helps error messages.
func (m Market) Describe() string {
	return fmt.Sprintf("market %d (claim %d round %d)", m.Id, m.ClaimId, m.Round)
}
