package params

const (
	// Bech32Prefix is the human readable part of account addresses (bc1...).
	Bech32Prefix = "bc"
	// BondDenom is the base denomination of BCT: 1 BCT = 10^6 ubct. It is also the staking,
	// fee and governance deposit denomination.
	BondDenom = "ubct"
	// DisplayDenom is the display denomination.
	DisplayDenom = "bct"
	// BCTExponent is the decimal exponent between DisplayDenom and BondDenom.
	BCTExponent = 6
	// ChainIDLocalnet is the chain id used by scripts/localnet.sh.
	ChainIDLocalnet = "buildchain-1"
)

// Derived bech32 prefixes, following the SDK convention.
const (
	Bech32PrefixAccPub   = Bech32Prefix + "pub"
	Bech32PrefixValAddr  = Bech32Prefix + "valoper"
	Bech32PrefixValPub   = Bech32Prefix + "valoperpub"
	Bech32PrefixConsAddr = Bech32Prefix + "valcons"
	Bech32PrefixConsPub  = Bech32Prefix + "valconspub"
)
