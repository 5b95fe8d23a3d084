package authflow

import "time"

// RateIPForTest exposes rateIP to the external test package.
var RateIPForTest = rateIP

// SetAdoptionWaitForTest shortens how long a presentation waits for a
// pending adoption.
func (s *Service) SetAdoptionWaitForTest(d time.Duration) { s.adoptionWait = d }
