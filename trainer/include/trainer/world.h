#pragma once
// Who this process is in a data-parallel run: its rank among the world's processes and where they
// meet. Read from the launcher's environment, the way torch.distributed's env:// does:
// - torchrun (and anything that sets the same variables): RANK, WORLD_SIZE, LOCAL_RANK,
//   MASTER_ADDR, MASTER_PORT;
// - Slurm's srun, one task per GPU: SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, and the first host of
//   SLURM_JOB_NODELIST as the master (MASTER_ADDR and MASTER_PORT still win when set).
// Neither: a run of one process.
#include <functional>
#include <string>

namespace trainer {

struct WorldInfo {
  int rank = 0;
  int size = 1;
  int local_rank = 0;  // on this node: picks the GPU
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string launcher = "none";  // "torchrun" (RANK/WORLD_SIZE), "slurm" or "none"
};

// The environment lookup, replaceable for tests; nullptr from it means unset.
using Getenv = std::function<const char*(const char*)>;

// Throws std::invalid_argument naming the variable that is missing or wrong.
WorldInfo world_from_environment(const Getenv& getenv);
WorldInfo world_from_environment();

// The first host of a Slurm host list: "gpu[003-010,12],cpu1" -> "gpu003", "a1,a2" -> "a1".
std::string first_slurm_host(const std::string& nodelist);

// The port a Slurm job's ranks meet on without MASTER_PORT: one per job id, so that two jobs that
// share a node do not collide (20000 + job id mod 20000).
int slurm_master_port(long job_id);

}  // namespace trainer
