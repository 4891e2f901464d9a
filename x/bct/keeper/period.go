package keeper

import (
	"context"

	errorsmod "cosmossdk.io/errors"
	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	appparams "github.com/buildchain/buildchain/app/params"
	"github.com/buildchain/buildchain/x/bct/economics"
	"github.com/buildchain/buildchain/x/bct/types"
)

func coins(amt sdkmath.Int) sdk.Coins { return sdk.NewCoins(sdk.NewCoin(appparams.BondDenom, amt)) }

// Supply is the current ubct supply.
func (k Keeper) Supply(ctx context.Context) sdkmath.Int {
	return k.bankKeeper.GetSupply(ctx, appparams.BondDenom).Amount
}

// DevFundAddress is where the development fund share goes: Params.DevFundAddress, or the
// dev fund module account when that is empty.
func (k Keeper) DevFundAddress(ctx context.Context) (sdk.AccAddress, error) {
	p, err := k.Params.Get(ctx)
	if err != nil {
		return nil, errorsmod.Wrap(err, "reading params")
	}
	if p.DevFundAddress == "" {
		return k.accountKeeper.GetModuleAddress(types.DevFundName), nil
	}
	return sdk.AccAddressFromBech32(p.DevFundAddress)
}

// PeriodEnd is the last height of a period (rewards are paid in its EndBlocker).
func PeriodEnd(p types.Period, params types.Params) int64 {
	return p.StartHeight + int64(params.PaymentPeriodBlocks) - 1
}

// EndBlocker starts the first period at the first block, and ends the current period at
// its last block: mint, pay the dev fund and the validators, start the next one.
func (k Keeper) EndBlocker(ctx context.Context) error {
	h := sdk.UnwrapSDKContext(ctx).BlockHeight()
	params, err := k.Params.Get(ctx)
	if err != nil {
		return errorsmod.Wrap(err, "reading params")
	}
	period, err := k.Period.Get(ctx)
	if err != nil {
		return errorsmod.Wrap(err, "reading period")
	}
	if period.Number == 0 {
		// The first period starts with the first block. Anything burned or booked before
		// this EndBlocker (in this very block) belongs to it: the start supply is the
		// supply before those burns.
		period.Number = 1
		period.StartHeight = h
		period.StartSupply = k.Supply(ctx).Add(period.Burned)
		if err := k.Period.Set(ctx, period); err != nil {
			return errorsmod.Wrap(err, "storing period")
		}
	}
	if h < PeriodEnd(period, params) {
		return nil
	}
	return k.endPeriod(ctx, period, params, h)
}

// endPeriod mints supply × inflation_rate × period_blocks / blocks_per_year (floored),
// pays dev_fund_share of it to the dev fund and the rest (plus any carry) to the validators
// in proportion to their rewardable build time (largest remainder, exact). In a period in
// which nobody built, the validators' share is still minted but kept in the module account
// and added to the next period's pool: inflation stays the announced fixed schedule, the dev
// fund gets no windfall from an idle network, and the coins still go to those who do the
// build work, raising the reward exactly when builders are scarce.
func (k Keeper) endPeriod(ctx context.Context, period types.Period, params types.Params, h int64) error {
	sdkCtx := sdk.UnwrapSDKContext(ctx)
	supply := k.Supply(ctx)
	mint, err := economics.MintAmount(supply, params.InflationRate, int64(params.PaymentPeriodBlocks), int64(params.BlocksPerYear))
	if err != nil {
		return errorsmod.Wrap(types.ErrInvalidParams, err.Error())
	}
	if mint.IsPositive() {
		if err := k.bankKeeper.MintCoins(ctx, types.ModuleName, coins(mint)); err != nil {
			return errorsmod.Wrapf(err, "minting %s", mint)
		}
	}
	dev, pool, err := economics.SplitDevFund(mint, params.DevFundShare)
	if err != nil {
		return errorsmod.Wrap(types.ErrInvalidParams, err.Error())
	}
	if dev.IsPositive() {
		devAddr, err := k.DevFundAddress(ctx)
		if err != nil {
			return err
		}
		if err := k.bankKeeper.SendCoinsFromModuleToAccount(ctx, types.ModuleName, devAddr, coins(dev)); err != nil {
			return errorsmod.Wrapf(err, "paying the dev fund %s", dev)
		}
	}
	pool = pool.Add(period.Carry)

	// Validators with rewardable time, in address order (the collection's key order).
	var paid []types.ValidatorStats
	var addrs []sdk.AccAddress
	var shares []economics.Share
	iter, err := k.ValidatorStats.Iterate(ctx, nil)
	if err != nil {
		return errorsmod.Wrap(err, "iterating validator stats")
	}
	defer iter.Close()
	for ; iter.Valid(); iter.Next() {
		kv, err := iter.KeyValue()
		if err != nil {
			return errorsmod.Wrap(err, "reading validator stats")
		}
		if !kv.Value.RewardableTime.IsPositive() {
			continue
		}
		paid = append(paid, kv.Value)
		addrs = append(addrs, kv.Key)
		shares = append(shares, economics.Share{Key: kv.Value.Address, Weight: kv.Value.RewardableTime})
	}
	record := types.PeriodRecord{
		Number: period.Number, EndHeight: h, StartSupply: period.StartSupply, Minted: mint, Burned: period.Burned,
		DevFund: dev, ValidatorsPaid: sdkmath.ZeroInt(), Carried: sdkmath.ZeroInt(), PaidValidators: uint32(len(paid)),
	}
	if len(paid) == 0 {
		record.Carried = pool
	} else {
		amounts, err := economics.DistributeProRata(pool, shares)
		if err != nil {
			return errorsmod.Wrap(err, "distributing rewards")
		}
		for i, s := range paid {
			if amounts[i].IsPositive() {
				if err := k.bankKeeper.SendCoinsFromModuleToAccount(ctx, types.ModuleName, addrs[i], coins(amounts[i])); err != nil {
					return errorsmod.Wrapf(err, "paying %s to %s", amounts[i], s.Address)
				}
			}
			if err := sdkCtx.EventManager().EmitTypedEvent(&types.EventRewardPaid{
				Period: period.Number, Validator: s.Address, RewardableTime: s.RewardableTime, Amount: amounts[i],
			}); err != nil {
				return err
			}
			s.TotalRewards = s.TotalRewards.Add(amounts[i])
			s.RewardableTime = sdkmath.LegacyZeroDec()
			if err := k.ValidatorStats.Set(ctx, addrs[i], s); err != nil {
				return errorsmod.Wrapf(err, "storing stats of %s", s.Address)
			}
			record.ValidatorsPaid = record.ValidatorsPaid.Add(amounts[i])
		}
	}
	record.EndSupply = k.Supply(ctx)
	if err := k.PeriodRecords.Set(ctx, period.Number, record); err != nil {
		return errorsmod.Wrap(err, "storing period record")
	}
	totals, err := k.Totals.Get(ctx)
	if err != nil {
		return errorsmod.Wrap(err, "reading totals")
	}
	totals.Minted = totals.Minted.Add(mint)
	if err := k.Totals.Set(ctx, totals); err != nil {
		return errorsmod.Wrap(err, "storing totals")
	}
	next := types.NewPeriod(period.Number+1, h+1, record.EndSupply, record.Carried)
	if err := k.Period.Set(ctx, next); err != nil {
		return errorsmod.Wrap(err, "storing period")
	}
	return sdkCtx.EventManager().EmitTypedEvent(&types.EventPeriodEnded{Record: record})
}
