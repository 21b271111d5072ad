package registry

// SignRecordBody signs body as is for key, without validating it: tests use
// it to make well-signed but invalid records.
func (s *Signer) SignRecordBody(key string, body []byte) []byte { return s.seal(kindRecord, key, body) }

// SignClockBody signs an hq.clock body as is.
func (s *Signer) SignClockBody(body []byte) []byte { return s.seal(kindClock, ClockKey, body) }
