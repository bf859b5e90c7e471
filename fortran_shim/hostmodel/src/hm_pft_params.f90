!> The 12 calibrated PFT parameters of MdPL (Xie, Li & Yoshimura, Table 2), their defaults
!! and ranges, and how ELM's 17 PFTs map onto MdPL's four parameter groups.
!!
!! Parameter order (index 1..12 of every parameter record):
!!   1 vegh   vegetation height (m)                            [0.5, 40]
!!   2 rlfv   leaf reflectance, visible (-)                    [0.05, 0.3]
!!   3 rlfn   leaf reflectance, near infrared (-)              [0.3, 0.7]
!!   4 tlfn   leaf transmittance, near infrared (-)            [0.1, 0.5]
!!   5 vgcov  vegetation cover fraction (-)                    [0.1, 1]
!!   6 cdl    leaf exchange coefficient, vapour (-)            [0.01, 0.5]
!!   7 chl    leaf exchange coefficient, heat (-)              [0.01, 0.1]
!!   8 vmax0  maximum Rubisco capacity at 25 C (mol m-2 s-1)   [1e-6, 1e-4]
!!   9 gradm  Ball-Berry stomatal slope (-)                    [1, 20]
!!  10 binter Ball-Berry minimum conductance (mol m-2 s-1)     [0.001, 0.1]
!!  11 effcon intrinsic quantum efficiency (mol mol-1)         [0.01, 0.2]
!!  12 psicr  critical (closing) water potential (kPa)         [-500, -50]
!! The paper lists cdl/chl in "s m-2"; here they are bulk leaf exchange coefficients that,
!! multiplied by the wind speed at canopy top and by the leaf+stem area, give the canopy
!! boundary-layer conductance in m s-1 (see hm_turbulence).
!!
!! ELM PFT (pftvarcon.F90 order) -> MdPL group (1 evergreen forest, 2 woodland,
!! 3 grassland = "wooded & grassland", 4 cultivation):
!!   0 not_vegetated                      -> bare soil (parameters kept, not used)
!!   1 needleleaf_evergreen_temperate_tree -> 1    2 needleleaf_evergreen_boreal_tree  -> 1
!!   3 needleleaf_deciduous_boreal_tree   -> 2    4 broadleaf_evergreen_tropical_tree -> 1
!!   5 broadleaf_evergreen_temperate_tree -> 1    6 broadleaf_deciduous_tropical_tree -> 2
!!   7 broadleaf_deciduous_temperate_tree -> 2    8 broadleaf_deciduous_boreal_tree   -> 2
!!   9 broadleaf_evergreen_shrub          -> 3   10 broadleaf_deciduous_temperate_shrub -> 3
!!  11 broadleaf_deciduous_boreal_shrub   -> 3   12 c3_arctic_grass                  -> 3
!!  13 c3_non-arctic_grass                -> 3   14 c4_grass                         -> 3
!!  15 c3_crop                            -> 4   16 c3_irrigated                     -> 4
!! Shrubs go to the wooded-grassland group because its default height (1 m) is a shrub's;
!! the deciduous/needleleaf trees go to woodland (MdPL's "mixed coniferous & broadleaf
!! deciduous forest & woodland"). Only PFT 14 uses the C4 pathway (Collatz et al. 1992).
!! Rooting (Zeng 2001) uses CLM4.5's roota_par/rootb_par per ELM PFT.
module hm_pft_params
  use, intrinsic :: iso_c_binding, only: c_int64_t
  use hm_constants, only: dp, npft, nparam
  use hm_errors, only: hm_ok, hm_err_param, msg_len, fmt_real, fmt_int
  implicit none
  private

  integer, parameter, public :: ip_vegh = 1, ip_rlfv = 2, ip_rlfn = 3, ip_tlfn = 4, &
       ip_vgcov = 5, ip_cdl = 6, ip_chl = 7, ip_vmax0 = 8, ip_gradm = 9, ip_binter = 10, &
       ip_effcon = 11, ip_psicr = 12
  integer, parameter, public :: ngroup = 4        !! MdPL parameter groups

  character(len=6), parameter, public :: param_names(nparam) = [character(len=6) :: &
       'vegh', 'rlfv', 'rlfn', 'tlfn', 'vgcov', 'cdl', 'chl', 'vmax0', 'gradm', 'binter', &
       'effcon', 'psicr']
  character(len=12), parameter, public :: param_units(nparam) = [character(len=12) :: &
       'm', '1', '1', '1', '1', '1', '1', 'mol m-2 s-1', '1', 'mol m-2 s-1', 'mol mol-1', 'kPa']
  character(len=20), parameter, public :: group_names(ngroup) = [character(len=20) :: &
       'evergreen_forest', 'woodland', 'grassland', 'cultivation']

  !> lower and upper bounds (MdPL Table 2)
  real(dp), parameter, public :: param_lo(nparam) = [0.5_dp, 0.05_dp, 0.3_dp, 0.1_dp, 0.1_dp, &
       0.01_dp, 0.01_dp, 1.e-6_dp, 1._dp, 0.001_dp, 0.01_dp, -500._dp]
  real(dp), parameter, public :: param_hi(nparam) = [40._dp, 0.3_dp, 0.7_dp, 0.5_dp, 1._dp, &
       0.5_dp, 0.1_dp, 1.e-4_dp, 20._dp, 0.1_dp, 0.2_dp, -50._dp]

  !> defaults (MdPL Table 2), one column per group
  real(dp), parameter, public :: group_defaults(nparam, ngroup) = reshape([ &
       35._dp, 0.10_dp, 0.45_dp, 0.25_dp, 1._dp, 0.110_dp, 0.0274_dp, 6.e-5_dp, 9.0_dp, 0.01_dp, 0.08_dp, -200._dp, &
       20._dp, 0.07_dp, 0.40_dp, 0.15_dp, 1._dp, 0.111_dp, 0.0277_dp, 6.e-5_dp, 7.5_dp, 0.01_dp, 0.08_dp, -200._dp, &
       1._dp, 0.11_dp, 0.58_dp, 0.25_dp, 1._dp, 0.0982_dp, 0.0246_dp, 6.e-5_dp, 4.0_dp, 0.04_dp, 0.05_dp, -200._dp, &
       1._dp, 0.11_dp, 0.58_dp, 0.25_dp, 1._dp, 0.098_dp, 0.0246_dp, 6.e-5_dp, 9.0_dp, 0.01_dp, 0.08_dp, -200._dp], &
       [nparam, ngroup])

  character(len=36), parameter, public :: pft_names(npft) = [character(len=36) :: &
       'not_vegetated', 'needleleaf_evergreen_temperate_tree', 'needleleaf_evergreen_boreal_tree', &
       'needleleaf_deciduous_boreal_tree', 'broadleaf_evergreen_tropical_tree', &
       'broadleaf_evergreen_temperate_tree', 'broadleaf_deciduous_tropical_tree', &
       'broadleaf_deciduous_temperate_tree', 'broadleaf_deciduous_boreal_tree', &
       'broadleaf_evergreen_shrub', 'broadleaf_deciduous_temperate_shrub', &
       'broadleaf_deciduous_boreal_shrub', 'c3_arctic_grass', 'c3_non-arctic_grass', 'c4_grass', &
       'c3_crop', 'c3_irrigated']

  !> MdPL group of each ELM PFT (0 = bare soil, which stores grassland defaults)
  integer, parameter, public :: pft_group(npft) = [0, 1, 1, 2, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4]
  !> .true. for the C4 photosynthetic pathway
  logical, parameter, public :: pft_is_c4(npft) = [.false., .false., .false., .false., .false., &
       .false., .false., .false., .false., .false., .false., .false., .false., .false., .true., &
       .false., .false.]
  !> Zeng (2001) rooting parameters a, b (m-1), CLM4.5 pftcon roota_par / rootb_par
  real(dp), parameter, public :: root_a(npft) = [11._dp, 7._dp, 7._dp, 7._dp, 7._dp, 7._dp, 6._dp, &
       6._dp, 6._dp, 7._dp, 7._dp, 7._dp, 11._dp, 11._dp, 11._dp, 6._dp, 6._dp]
  real(dp), parameter, public :: root_b(npft) = [2._dp, 2._dp, 2._dp, 2._dp, 1._dp, 1._dp, 2._dp, &
       2._dp, 2._dp, 1.5_dp, 1.5_dp, 1.5_dp, 2._dp, 2._dp, 2._dp, 3._dp, 3._dp]

  public :: default_params, validate_params

contains

  !> Default parameters for all 17 PFTs (MdPL Table 2 value of each PFT's group).
  pure subroutine default_params(params)
    real(dp), intent(out) :: params(nparam, npft)   !! parameter records, one per PFT
    integer :: p, g
    do p = 1, npft
      g = 3
      if (pft_group(p) > 0) g = pft_group(p)
      params(:, p) = group_defaults(:, g)
    end do
  end subroutine default_params

  !> Check that every parameter of every PFT of one column lies in its MdPL range.
  subroutine validate_params(params, icol, status, msg)
    real(dp), intent(in) :: params(nparam, npft)    !! parameter records of one column
    integer(c_int64_t), intent(in) :: icol          !! 1-based column index, for the message
    integer, intent(out) :: status                  !! hm_ok or hm_err_param
    character(len=msg_len), intent(inout) :: msg    !! message naming the culprit on failure
    integer :: p, k
    status = hm_ok
    do p = 1, npft
      do k = 1, nparam
        if (.not. (params(k, p) >= param_lo(k) .and. params(k, p) <= param_hi(k))) then
          status = hm_err_param
          msg = 'parameter '//trim(param_names(k))//' = '//fmt_real(params(k, p))//' '// &
               trim(param_units(k))//' for PFT '//fmt_int(int(p - 1, c_int64_t))//' ('// &
               trim(pft_names(p))//') of column '//fmt_int(icol)//' is outside its range ['// &
               fmt_real(param_lo(k))//', '//fmt_real(param_hi(k))//'] (MdPL Table 2)'
          return
        end if
      end do
    end do
  end subroutine validate_params

end module hm_pft_params
