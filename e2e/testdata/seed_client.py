# The seed guide's "Python Client Example", unchanged except that BASE_URL
# comes from the environment and the call to the example's own API
# (https://api.example.com, not reachable here) is left out.
import os
import requests

BASE_URL = os.environ.get("REVOCD_URL", "http://localhost:8000")

# 1. Create access token
response = requests.post(
    f"{BASE_URL}/token",
    json={"subject": "user123"}
)
token_data = response.json()
access_token = token_data["access_token"]
jti = token_data["jti"]

# 2. Validate token
validation = requests.post(
    f"{BASE_URL}/token/validate",
    json={
        "token": access_token,
        "check_revocation": True
    }
).json()

if validation["valid"]:
    print("Token is valid!")

# 3. Use token for API calls
headers = {"Authorization": f"Bearer {access_token}"}

# 4. Revoke token (logout)
requests.post(
    f"{BASE_URL}/revoke",
    json={
        "type": "revoke_jti",
        "value": jti
    }
)

after = requests.post(f"{BASE_URL}/token/validate", json={"token": access_token, "check_revocation": True}).json()
assert after["revoked"] is True and after["valid"] is False, after
print("Token revoked!")
