"""The limits of CBR v3 that the orchestrator relies on, each defined once.

Each comes from the Huawei Cloud CBR API reference (the operation named in its comment). The emulator,
being the server, keeps its own definitions (cbr_emulator/); tests/emulator/test_client_limits.py checks
that it accepts each limit and refuses one beyond it, so that the two sides cannot drift apart unnoticed.
"""

# Resources a vault holds at most, and so a checkpoint covers (AddVaultResource, CreateCheckpoint:
# resources 1-256; the emulator's state.MAX_VAULT_RESOURCES).
VAULT_MAX_RESOURCES = 256

# Resources CreateVault binds in the same call (its ``resources`` array: at most 255); a 256th is bound
# afterwards with AddVaultResource.
CREATE_VAULT_MAX_RESOURCES = 255

# Names of vaults, checkpoints and policies (CreateVault, CreateCheckpoint, CreatePolicy: 1-64 characters).
NAME_MAX_LENGTH = 64

# A vault's description (CreateVault: at most 64 characters).
VAULT_DESCRIPTION_MAX_LENGTH = 64

# A vault's capacity in GB (CreateVault billing.size: 10-10485760).
VAULT_MIN_GB = 10
VAULT_MAX_GB = 10_485_760

# The largest page of the list operations (ListVault, ListBackups, ListOpLogs, ...: limit 1-1000).
LIST_MAX_PAGE = 1000

# The largest page of ListProtectable (limit 1-50), the exception to LIST_MAX_PAGE.
PROTECTABLE_MAX_PAGE = 50
