!> The host program's grid: an E3SM domain file (read by host_domain, which also decomposes
!! the land cells over the MPI ranks) and where each land cell stands among the land cells.
!!
!! Global cell ids are 1-based in file order: cell (i, j) of an ni x nj domain has id
!! (j-1) ni + i. Only land cells (mask /= 0) are columns of the land model. The
!! decomposition (host_domain: decompose_cells) is deterministic: land cells in id order,
!! split into contiguous blocks (sizes differ by at most one) or dealt round-robin; each
!! column's physics does not depend on where it runs, so results are bit-for-bit identical
!! on any number of ranks.
module hmh_grid
  use host_domain, only: e3sm_domain, read_e3sm_domain
  implicit none
  private

  !> The domain: every cell (host_domain's e3sm_domain, flattened in global-id order) and
  !! the position of each land cell among the land cells.
  type, public, extends(e3sm_domain) :: domain_t
    character(len=:), allocatable :: path   !! file it came from
    integer :: n = 0                        !! ni * nj
    integer :: n_land = 0                   !! cells with mask /= 0
    integer, allocatable :: land_index(:)   !! position among the land cells (0 for others)
  end type domain_t

  public :: read_domain

contains

  !> Read an E3SM domain file (ni, nj, xc, yc, mask, area) that has at least one land cell.
  subroutine read_domain(path, dom, message)
    character(len=*), intent(in) :: path                   !! domain file
    type(domain_t), intent(out) :: dom                     !! the domain
    character(len=:), allocatable, intent(out) :: message  !! "" or the error
    integer :: k
    dom%path = path
    call read_e3sm_domain(path, dom%e3sm_domain, message)
    if (message /= "") return
    dom%n = dom%ni * dom%nj
    allocate (dom%land_index(dom%n))
    dom%n_land = 0
    do k = 1, dom%n
      if (dom%mask(k) /= 0) then
        dom%n_land = dom%n_land + 1
        dom%land_index(k) = dom%n_land
      else
        dom%land_index(k) = 0
      end if
    end do
    if (dom%n_land == 0) message = "domain file '"//path//"' has no land cell (mask /= 0)"
  end subroutine read_domain

end module hmh_grid
