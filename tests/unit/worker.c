#include "unit.h"
#include "worker.h"

TEST(ssh_reconnects_back_off_by_doubling_up_to_30_s)
{
	/* 1, 2, 4, 8, 16 s, then 30 s: a worker back after a short outage
	 * is tried again within seconds, also once it counts as down */
	CHECK_INT(orch_worker_ssh_reconnect_ms(1, 0), 1000);
	CHECK_INT(orch_worker_ssh_reconnect_ms(2, 0), 2000);
	CHECK_INT(orch_worker_ssh_reconnect_ms(3, 0), 4000);
	CHECK_INT(orch_worker_ssh_reconnect_ms(4, 0), 8000);
	CHECK_INT(orch_worker_ssh_reconnect_ms(5, 0), 16000);
	CHECK_INT(orch_worker_ssh_reconnect_ms(6, 0), 30000);
	CHECK_INT(orch_worker_ssh_reconnect_ms(100, 0), 30000);
	CHECK_INT(orch_worker_ssh_reconnect_ms(0, 0), 1000);
}

TEST(a_hopeless_failure_waits_the_longest_at_once)
{
	CHECK_INT(orch_worker_ssh_reconnect_ms(1, 1), 30000);
	CHECK_INT(orch_worker_ssh_reconnect_ms(3, 1), 30000);
}

static const unit_test table[] = {
    T(ssh_reconnects_back_off_by_doubling_up_to_30_s),
    T(a_hopeless_failure_waits_the_longest_at_once),
};

UNIT_MAIN(table)
