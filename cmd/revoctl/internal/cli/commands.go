package cli

// commands returns revoctl's command tree. Each call returns fresh commands
// (their flag variables live in the closures).
func commands() []*command {
	return []*command{
		issueCmd(),
		validateCmd(),
		inspectCmd(),
		revokeCmd(),
		{name: "refresh", sub: []*command{refreshCreateCmd(), refreshExchangeCmd(), refreshRevokeCmd()}},
		{name: "keys", sub: []*command{keysRotateCmd(), keysJWKSCmd()}},
		{name: "events", sub: []*command{eventsTailCmd()}},
		healthCmd(),
		readyCmd(),
	}
}
