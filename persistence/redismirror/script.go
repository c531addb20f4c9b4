package redismirror

import "github.com/redis/go-redis/v9"

// mergeScript writes one revocation key, merging with the stored value.
//
//	KEYS[1]  the revocation key
//	ARGV[1]  the value: "1" (jti, kid, or all tokens of a subject) or a
//	         decimal Unix-second cutoff
//	ARGV[2]  TTL in milliseconds (> 0)
//
// Value: "1" is never replaced and always wins; otherwise the larger of two
// well-formed cutoffs is kept. A stored value that is not a plain decimal
// (or a key of another type) is overwritten: that repairs the key.
// TTL: never shortened; a key without expiry keeps none.
var mergeScript = redis.NewScript(`
local new = ARGV[1]
local cur = redis.pcall('GET', KEYS[1])
if type(cur) == 'string' then
  if cur == '1' then
    new = '1'
  elseif new ~= '1' and #cur <= 18 and string.match(cur, '^%d+$') then
    if tonumber(cur) > tonumber(new) then new = cur end
  end
  local pttl = redis.call('PTTL', KEYS[1])
  if pttl == -1 or pttl >= tonumber(ARGV[2]) then
    return redis.call('SET', KEYS[1], new, 'KEEPTTL')
  end
end
return redis.call('SET', KEYS[1], new, 'PX', ARGV[2])
`)
