/** WebSocket close codes the server uses, and clients interpret. */
export const CloseCode = {
  goingAway: 1001,
  policyViolation: 1008,
  tooBig: 1009,
  internalError: 1011,
  tryAgainLater: 1013,
  /** The session was ended (logout, password change): its token is refused from now on; sign in again. */
  sessionEnded: 4001,
  /** The user was banned everywhere by an admin: every session ended, and no sign-in is taken. */
  bannedEverywhere: 4003,
} as const;
